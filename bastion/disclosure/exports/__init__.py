"""Machine-readable forms of an advisory: CSAF 2.0, OSV and CVE JSON 5.1, their validation and signing.

The builders (``csaf``, ``osv``, ``cve``) are pure functions of an
:class:`~bastion.disclosure.content.AdvisoryContent` and a
:class:`~bastion.disclosure.content.PublicationMeta`; ``validate`` checks a document against its
official JSON schema; ``publish`` builds, validates, signs and stores all three.
"""
