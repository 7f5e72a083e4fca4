"""The audit vocabulary: every kind of event the trail can hold, and every kind of actor.

One flat enum, grouped by area and sorted within each area, so a reader can see at a glance what is
audited. Values are dotted ``area.what_happened`` strings: they are stored in every row and hashed
into the chain, so **a value must never be renamed** once released (add a new member instead).
"""

from django.db import models


class Event(models.TextChoices):
    """What happened. Other apps add their members here, in their own area block."""

    # --- audit: the trail looking at itself ---
    AUDIT_TAMPERING_DETECTED = "audit.tampering_detected", "Audit tampering detected"
    AUDIT_VERIFIED = "audit.verified", "Audit chain verified"
    AUDIT_VIEWED = "audit.viewed", "Audit log viewed"

    # --- disclosure: embargoes, upstream hand-off, advisories, credit, security.txt ---
    # (data: ids, states, instants, kinds and counts; never advisory or report text)
    ACCESS_GRANTED = "disclosure.access_granted", "Embargoed report: access granted"
    ACCESS_REVOKED = "disclosure.access_revoked", "Embargoed report: access revoked"
    ADVISORY_APPROVED = "disclosure.advisory_approved", "Advisory approved"
    ADVISORY_CREATED = "disclosure.advisory_created", "Advisory drafted"
    ADVISORY_EDITED = "disclosure.advisory_edited", "Advisory edited"
    ADVISORY_EMBARGO_OVERRIDDEN = "disclosure.advisory_embargo_overridden", "Advisory: embargo overridden"
    ADVISORY_PUBLISH_BLOCKED = "disclosure.advisory_publish_blocked", "Advisory publication blocked"
    ADVISORY_PUBLISHED = "disclosure.advisory_published", "Advisory published"
    ADVISORY_REJECTED = "disclosure.advisory_rejected", "Advisory sent back to draft"
    ADVISORY_SCHEDULED = "disclosure.advisory_scheduled", "Advisory publication scheduled"
    ADVISORY_SUBMITTED = "disclosure.advisory_submitted", "Advisory submitted for review"
    ADVISORY_UPDATED = "disclosure.advisory_updated", "Published advisory updated"
    ADVISORY_VIEWED = "disclosure.advisory_viewed", "Advisory draft viewed"
    ADVISORY_WITHDRAWN = "disclosure.advisory_withdrawn", "Advisory withdrawn"
    BREAK_GLASS = "disclosure.break_glass", "Embargoed report opened by break-glass"
    CREDIT_ADDED = "disclosure.credit_added", "Credit added"
    CREDIT_CHOSEN = "disclosure.credit_chosen", "Credit appearance chosen by the reporter"
    CREDIT_CONFIRMED = "disclosure.credit_confirmed", "Credit confirmed"
    CREDIT_CORRECTED = "disclosure.credit_corrected", "Credit corrected"
    CREDIT_WITHDRAWN = "disclosure.credit_withdrawn", "Credit withdrawn"
    EMBARGO_ACKNOWLEDGED = "disclosure.embargo_acknowledged", "Embargo acknowledged"
    EMBARGO_CHANGED = "disclosure.embargo_changed", "Embargo end moved"
    EMBARGO_LIFTED = "disclosure.embargo_lifted", "Embargo lifted"
    EMBARGO_PARTY_ADDED = "disclosure.embargo_party_added", "Embargo party added"
    EMBARGO_REMINDER_SENT = "disclosure.embargo_reminder_sent", "Embargo reminder sent"
    EMBARGO_SET = "disclosure.embargo_set", "Embargo set"
    HANDOFF_EXPORTED = "disclosure.handoff_exported", "Hand-off packet exported"
    HANDOFF_REMINDER_SENT = "disclosure.handoff_reminder_sent", "Upstream deadline reminder sent"
    HANDOFF_SENT = "disclosure.handoff_sent", "Hand-off packet sent upstream"
    HANDOFF_UPDATED = "disclosure.handoff_updated", "Upstream status updated"
    REPORTER_NOTIFIED_OF_DATE = "disclosure.reporter_notified_of_date", "Reporter told the publication date"
    SECURITY_TXT_ALERTED = "disclosure.security_txt_alerted", "security.txt expiry alert sent"
    SECURITY_TXT_SIGNED = "disclosure.security_txt_signed", "security.txt signed"
    THANKS_IMPORTED = "disclosure.thanks_imported", "Hall of Thanks entries imported"
    UPSTREAM_CONTACT_SAVED = "disclosure.upstream_contact_saved", "Upstream contact saved"

    # --- auth: signing in and out, passwords ---
    LOGIN_FAILED = "auth.login_failed", "Login failed"
    LOGIN_LOCKED_OUT = "auth.login_locked_out", "Login locked out"
    LOGIN_SUCCEEDED = "auth.login_succeeded", "Login succeeded"
    LOGOUT = "auth.logout", "Logged out"
    PASSWORD_CHANGED = "auth.password_changed", "Password changed"
    PASSWORD_RESET = "auth.password_reset", "Password reset"
    PASSWORD_RESET_REQUESTED = "auth.password_reset_requested", "Password reset requested"
    REAUTHENTICATED = "auth.reauthenticated", "Re-authenticated"

    # --- intake: the public policy, the org key, flood control (data: versions, fingerprints, scopes) ---
    FLOOD_TRIPPED = "intake.flood_tripped", "Intake flood limit tripped"
    ORG_KEY_GENERATED = "vault.org_key_generated", "Org OpenPGP key generated"
    POLICY_PUBLISHED = "intake.policy_published", "Security policy published"

    # --- mail: email intake (data: states, sizes and reasons, never addresses or content) ---
    MAIL_DISMISSED = "mail.dismissed", "Held email dismissed"
    MAIL_FLOOD_ALERTED = "mail.flood_alerted", "Mail flood: staff alerted"
    MAIL_ORIGINAL_OPENED = "mail.original_opened", "Original email opened"
    MAIL_QUARANTINED = "mail.quarantined", "Email quarantined (undecryptable)"
    MAIL_RELEASED = "mail.released", "Held email released"

    # --- mfa: second factors (data names the authenticator type, never its secret) ---
    MFA_ENABLED = "mfa.enabled", "Authenticator added"
    MFA_FAILED = "mfa.failed", "MFA check failed"
    MFA_REMOVED = "mfa.removed", "Authenticator removed"
    RECOVERY_CODES_GENERATED = "mfa.recovery_codes_generated", "Recovery codes generated"

    # --- reports: intake, the conversation and every staff read (data: ids and states, never content) ---
    ATTACHMENT_ADDED = "report.attachment_added", "Attachment added"
    ATTACHMENT_DOWNLOADED = "report.attachment_downloaded", "Attachment downloaded"
    DELETION_APPROVED = "report.deletion_approved", "Deletion request approved"
    DELETION_REFUSED = "report.deletion_refused", "Deletion request refused"
    DELETION_REQUESTED = "report.deletion_requested", "Deletion requested"
    MESSAGE_POSTED = "report.message_posted", "Message posted"
    PORTAL_LINKS_SENT = "report.portal_links_sent", "Portal links sent"
    PORTAL_TOKEN_REJECTED = "report.portal_token_rejected", "Portal link rejected"
    REPORT_STATUS_CHANGED = "report.status_changed", "Report status changed"
    REPORT_SUBMITTED = "report.submitted", "Report submitted"
    REPORT_VIEWED = "report.viewed", "Report viewed"
    REPORTER_UPDATED = "report.reporter_updated", "Reporter details updated"

    # --- triage: working a report (data: ids, states, vectors, amounts; never content) ---
    API_TOKEN_CREATED = "triage.api_token_created", "API token created"
    API_TOKEN_REVOKED = "triage.api_token_revoked", "API token revoked"
    API_TOKEN_USED = "triage.api_token_used", "API token used"
    ASSET_SAVED = "triage.asset_saved", "Asset saved"
    BOUNTY_APPROVED = "triage.bounty_approved", "Bounty award approved"
    BOUNTY_ASSESSED = "triage.bounty_assessed", "Bounty eligibility assessed"
    BOUNTY_DECLINED = "triage.bounty_declined", "Bounty declined as not eligible"
    BOUNTY_PAID = "triage.bounty_paid", "Bounty marked paid"
    BOUNTY_PROPOSED = "triage.bounty_proposed", "Bounty award proposed"
    CANNED_RESPONSE_DELETED = "triage.canned_response_deleted", "Canned response deleted"
    CANNED_RESPONSE_SAVED = "triage.canned_response_saved", "Canned response saved"
    CLOCK_BREACHED = "triage.clock_breached", "Response target breached"
    CLOCK_ESCALATED = "triage.clock_escalated", "Response target escalated to backup"
    DUPLICATES_SEARCHED = "triage.duplicates_searched", "Duplicate candidates compared"
    PROGRAM_UPDATED = "triage.program_updated", "Program terms updated"
    REPORT_ASSIGNED = "triage.report_assigned", "Report assigned"
    REPORT_CLASSIFIED = "triage.report_classified", "Report scored or classified"
    REPORT_EXPORTED_PUBLIC = "triage.report_exported_public", "Report handed over as a public bug"
    REPORT_MARKED_DUPLICATE = "triage.report_marked_duplicate", "Report marked as duplicate"
    REPORTS_SEARCHED = "triage.reports_searched", "Report contents searched"

    # --- vault: keys, shredding, backups (data: versions, counts, names and reasons; never content) ---
    BACKUP_CREATED = "vault.backup_created", "Backup created"
    BACKUP_DRILL_FAILED = "vault.backup_drill_failed", "Restore drill failed"
    BACKUP_DRILL_PASSED = "vault.backup_drill_passed", "Restore drill passed"
    BACKUP_FAILED = "vault.backup_failed", "Backup failed"
    BACKUP_PRUNED = "vault.backup_pruned", "Old backups pruned"
    BACKUP_RESTORED = "vault.backup_restored", "Backup restored"
    MASTER_KEY_RETIRED = "vault.master_key_retired", "Master key version retired"
    MASTER_KEY_ROTATED = "vault.master_key_rotated", "Master key rotated"
    REPORT_SHREDDED = "vault.report_shredded", "Report shredded (content destroyed)"
    RETENTION_RULE_CHANGED = "vault.retention_rule_changed", "Retention rule changed"
    SHRED_LEDGER_APPLIED = "vault.shred_ledger_applied", "Shred ledger re-applied after restore"

    # --- staff: the team, invitations and roles ---
    INVITATION_ACCEPTED = "staff.invitation_accepted", "Invitation accepted"
    INVITATION_REJECTED = "staff.invitation_rejected", "Invitation link rejected"
    INVITATION_REVOKED = "staff.invitation_revoked", "Invitation revoked"
    INVITATION_SENT = "staff.invitation_sent", "Invitation sent"
    PROFILE_UPDATED = "staff.profile_updated", "Profile updated"
    ROLE_CHANGED = "staff.role_changed", "Role changed"
    ROTA_UPDATED = "staff.rota_updated", "On-call rota updated"
    SETUP_COMPLETED = "staff.setup_completed", "Account setup completed"
    SETUP_LINK_ISSUED = "staff.setup_link_issued", "Setup link issued"
    SETUP_LINK_REJECTED = "staff.setup_link_rejected", "Setup link rejected"
    STAFF_DEACTIVATED = "staff.deactivated", "Staff member deactivated"
    STAFF_REACTIVATED = "staff.reactivated", "Staff member reactivated"


class ActorKind(models.TextChoices):
    """Who acted: a staff account, Bastion itself, an unauthenticated visitor, or a reporter."""

    STAFF = "staff", "Staff"
    SYSTEM = "system", "System"
    ANONYMOUS = "anonymous", "Anonymous"
    REPORTER = "reporter", "Reporter"
