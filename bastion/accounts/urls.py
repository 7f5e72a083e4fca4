"""Account pages, mounted at ``/accounts/`` before allauth's own URLs (namespace ``accounts``)."""

from django.urls import path

from bastion.accounts import token_views, views

app_name = "accounts"

urlpatterns = [
    path("setup/<str:token>/", views.setup, name="setup"),
    path("invitation/<int:invitation_id>/<str:token>/", views.accept_invitation, name="invitation"),
    path("profile/", views.profile, name="profile"),
    path("profile/api-tokens/", token_views.create, name="create_api_token"),
    path("profile/api-tokens/<int:token_id>/revoke/", token_views.revoke, name="revoke_api_token"),
    path("team/", views.team, name="team"),
    path("team/invite/", views.invite, name="invite"),
    path("team/<int:user_id>/role/", views.change_role, name="change_role"),
    path("team/<int:user_id>/deactivate/", views.deactivate, name="deactivate"),
    path("team/<int:user_id>/reactivate/", views.reactivate, name="reactivate"),
    path("team/invitations/<int:invitation_id>/revoke/", views.revoke_invitation, name="revoke_invitation"),
]
