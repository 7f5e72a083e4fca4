"""The text of the default policy (version 1), published by Bastion itself on a fresh install.

It names no company, address or product: those differ per instance and appear on the page from
settings (the contact address, the key fingerprint), so the text stays true whoever runs it. The
safe harbor follows disclose.io's core terms (CC0). Admins edit it by publishing version 2.
"""

from __future__ import annotations

TITLE = "Vulnerability disclosure policy"

BODY = """\
We take the security of our systems and of the people who use them seriously, and we value the
work of security researchers. If you believe you have found a security vulnerability in anything
we run, please tell us. This policy explains how to report it, what we ask of you, and what you
can expect from us in return.

## How to report

Use one of the channels listed under **Report a vulnerability** on this page. If you can, encrypt
your report to our OpenPGP key, published at `/.well-known/security-key.asc`, and check that its
fingerprint matches the one shown on this page.

A good report includes:

- the product, version, URL or component affected;
- what the problem is and what an attacker could do with it, as far as you can tell;
- step-by-step instructions to reproduce it, with any proof-of-concept code, requests or
  screenshots;
- whether, and how, you would like to be credited.

One vulnerability per report helps us track and fix each one. Any language is welcome; English
gets the fastest answer.

## What we ask of you

- Give us a reasonable time to fix the problem before you disclose it, and agree the date with us.
- Test only against accounts and data that you own or have explicit permission to use. If you
  come across anyone else's personal data, stop, do not keep or share it, and tell us.
- Do no harm: no denial of service, no spam, no social engineering or phishing of our staff or
  users, no physical attacks, and no degrading of our services for others.
- Run automated tools only at a rate that does not affect other users.
- Use a vulnerability only as far as needed to show it exists: do not move on to other systems,
  keep access, or change or delete data.

## What you can expect from us

- An acknowledgement as soon as your report arrives, with a tracking ID and a private link to
  follow its progress and talk with us.
- A first response from a person, an assessment of your report, and a fix, each within the
  response targets on this page; and updates along the way.
- Credit for your discovery when we publish an advisory, if you want it.
- No legal action against research done in good faith under this policy (see **Safe harbor**).
"""

SCOPE = """\
**In scope:** every product, service and website we operate, including this one.

**Out of scope** (please report these only with a demonstrated, concrete security impact):

- findings from automated scanners without a working proof of concept;
- missing security headers or cookie flags on their own;
- clickjacking on pages with no sensitive actions;
- self-XSS, and cross-site request forgery on logout or other actions without security impact;
- missing rate limits on endpoints other than authentication;
- software version numbers, banners or descriptive error messages;
- SPF, DKIM or DMARC settings;
- vulnerabilities in other companies' services that we use: please report those to them;
- attacks that need physical access to a device, or an already compromised device or browser;
- denial of service through sheer volume of traffic.
"""

SAFE_HARBOR = """\
We consider security research and vulnerability disclosure activities carried out in good faith
and consistent with this policy to be authorized conduct. For such research:

- we will not initiate or support legal action against you, and we consider your research
  authorized under anti-hacking laws (such as the US Computer Fraud and Abuse Act, the UK
  Computer Misuse Act and similar laws elsewhere);
- we consider your research authorized under anti-circumvention laws, and will not bring a claim
  against you for circumventing technology measures to carry it out;
- we waive any restriction in our terms of service or acceptable use policy that would
  interfere with research under this policy, for that research only;
- we consider your research lawful, helpful to the overall security of the Internet, and carried
  out in good faith.

You are expected, as always, to comply with all applicable laws. If a third party takes legal
action against you for activities you carried out in line with this policy, we will take steps
to make it known that your actions complied with it.

If you are unsure whether something you plan to do is consistent with this policy, ask us
through one of the reporting channels before you go any further.
"""

FIX_TARGETS = """\
- **Critical** (CVSS 9.0-10.0): fixed or mitigated within 7 days
- **High** (CVSS 7.0-8.9): within 30 days
- **Medium** (CVSS 4.0-6.9): within 90 days
- **Low** (CVSS 0.1-3.9): within 180 days, or in the next planned release
"""

FIRST_RESPONSE_HOURS = 24
TRIAGE_DAYS = 5


def default_policy_fields() -> dict[str, object]:
    """The field values of the default version 1 (without version and publisher)."""
    return {
        "title": TITLE,
        "body": BODY,
        "scope": SCOPE,
        "safe_harbor": SAFE_HARBOR,
        "first_response_hours": FIRST_RESPONSE_HOURS,
        "triage_days": TRIAGE_DAYS,
        "fix_targets": FIX_TARGETS,
    }
