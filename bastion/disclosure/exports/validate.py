"""Check an export against its official JSON schema, and say in plain words what is wrong.

The schemas are the official ones, unmodified: CSAF 2.0 (with the FIRST CVSS schemas it refers
to) and OSV 1.7.3 bundled in ``bastion/disclosure/schemas/``, CVE JSON 5.1.1's CNA published
container from the ``cvelib`` package. Nothing is fetched: every ``$ref`` resolves to a bundled file.

Problems are written for the staff member at the pre-publish checklist: where (a JSON pointer),
what is wrong, and, for the mistakes we can foresee, what to do. They never repeat the offending
value, since before publication that is embargoed advisory text.

One allowance, for OSV: its schema admits only the id prefixes of registered OSV home databases.
An id starting with our own ``ADVISORY_PREFIX`` is accepted as if registered (we are its home
database); a publisher whose entries should be imported by OSV.dev registers the prefix with the
OSV schema project. Every other OSV rule applies unchanged.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # jsonschema ships no type hints (no stubs installed)
from django.conf import settings
from referencing import Registry, Resource

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
CVE_SCHEMA = importlib.resources.files("cvelib") / "schemas" / "CVE_JSON_cnaPublishedContainer_5.1.1.json"
KINDS = ("csaf", "osv", "cve")
_draft2020 = jsonschema.Draft202012Validator
_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_NAMES = {"csaf": "CSAF", "osv": "OSV", "cve": "CVE"}
ENUM_SHOWN = 12  # a longer list of allowed values is named by its size, not spelled out
# Hints for the mistakes staff can make, by the JSON pointer (regex) where they show up.
_HINTS = (
    (
        r"^/affected/\d+/package/ecosystem$",
        "use an OSV ecosystem name such as RubyGems, npm, PyPI, Go or Maven",
    ),
    (r"^/providerMetadata/orgId$", "set BASTION_CVE_ORG_ID to the CNA's orgId, a version 4 UUID"),
    (r"^/vulnerabilities/0/cve$", "write the CVE ID as CVE-YYYY-NNNN"),
    (r"^/vulnerabilities/0/cwe", "pick the CWE from the list"),
    (r"^/document/title$", "give the advisory a title"),
)


def _load(path: Path | importlib.resources.abc.Traversable) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


@functools.cache
def _validator(kind: str) -> Any:
    """The compiled validator for one kind, built once per process."""
    if kind == "csaf":
        registry: Registry[Any] = Registry()
        for name in ("cvss-v2.0", "cvss-v3.0", "cvss-v3.1"):
            contents = _load(SCHEMA_DIR / "csaf" / f"{name}.json")
            # The CSAF schema refers to each by its unversioned URL; the files' own ids carry a
            # date query. Register under the URL the CSAF schema uses.
            registry = registry.with_resource(
                f"https://www.first.org/cvss/{name}.json", Resource.from_contents(contents)
            )
        schema = _load(SCHEMA_DIR / "csaf" / "csaf_json_schema.json")
        return _draft2020(schema, registry=registry, format_checker=_draft2020.FORMAT_CHECKER)
    if kind == "osv":
        schema = _load(SCHEMA_DIR / "osv" / "schema.json")
        return _draft2020(schema, format_checker=_draft2020.FORMAT_CHECKER)
    if kind == "cve":
        draft7 = jsonschema.Draft7Validator
        return draft7(_load(CVE_SCHEMA), format_checker=draft7.FORMAT_CHECKER)
    raise ValueError(f"unknown export kind {kind!r}; expected one of {', '.join(KINDS)}")


def validate_export(kind: str, document: dict[str, Any] | None) -> list[str]:
    """Problems with one export, in plain words (an empty list: it is valid).

    ``kind`` is a :class:`~bastion.disclosure.models.DocumentKind` value (``csaf``, ``osv``,
    ``cve``). Raises ValueError for an unknown kind (a programming error, not bad input).
    """
    validator = _validator(kind)
    name = _NAMES[kind]
    if document is None:
        return [f"{name}: there is no document to check."]
    problems = list(_foreseen(kind, document))
    org_id_said = any("BASTION_CVE_ORG_ID" in problem for problem in problems)
    errors = sorted(validator.iter_errors(document), key=lambda error: list(map(str, error.absolute_path)))
    for error in errors:
        if _allowed(kind, document, error):
            continue
        error = _resolve(error)
        where = _pointer(error)
        if org_id_said and where.startswith("/providerMetadata"):
            continue  # already said, with what to do, by _foreseen
        text = f"{name}: {where}: {_describe(error)}"
        hint = next((hint for pattern, hint in _HINTS if re.match(pattern, where)), "")
        problems.append(f"{text} ({hint})" if hint else text)
    return list(dict.fromkeys(problems))


def _foreseen(kind: str, document: dict[str, Any]) -> Iterable[str]:
    """The problems we can name better than the schema can."""
    if kind == "csaf" and not document.get("product_tree"):
        yield "CSAF: the advisory names no affected product; add at least one product or package."
    if kind == "cve":
        org_id = document.get("providerMetadata", {}).get("orgId", "")
        if not org_id:
            yield (
                "CVE: BASTION_CVE_ORG_ID is not set. A CVE record names the CNA that submits it: set it to "
                "your CNA's orgId (or that of the CNA you hand records to), or remove the CVE ID."
            )
        elif not _UUID4.match(org_id.lower()):
            yield "CVE: BASTION_CVE_ORG_ID is not a CVE Program orgId: it must be a version 4 UUID."
        if not document.get("affected"):
            yield "CVE: the advisory names no affected product; add at least one product or package."
        if not any(item.get("value") for item in document.get("descriptions", [])):
            yield "CVE: the record needs a description; write the advisory's summary or description."


def _allowed(kind: str, document: dict[str, Any], error: Any) -> bool:
    """The OSV id-prefix allowance described in the module docstring."""
    return (
        kind == "osv"
        and list(error.absolute_path) == ["id"]
        and error.validator == "pattern"
        and str(document.get("id", "")).startswith(f"{settings.ADVISORY_PREFIX}-")
    )


def _pointer(error: Any) -> str:
    return "/" + "/".join(str(part) for part in error.absolute_path)


def _resolve(error: Any) -> Any:
    """For a oneOf/anyOf failure, the failure inside the branch the document most likely meant."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        error = _likeliest_branch_error(error.context)
    return error


def _likeliest_branch_error(errors: list[Any]) -> Any:
    """Of a oneOf/anyOf's failures, the one from the branch the document most likely meant.

    A branch failing on a ``const`` or ``enum`` was probably not meant (a CVSS 3.1 score checked
    against the 3.0 branch fails on ``version``); of the rest, the branch with fewest failures.
    """
    branches: dict[Any, list[Any]] = {}
    for error in errors:
        branch = error.relative_schema_path[0] if error.relative_schema_path else None
        branches.setdefault(branch, []).append(error)
    meant = [found for found in branches.values() if not any(e.validator in ("const", "enum") for e in found)]
    return jsonschema.exceptions.best_match(min(meant or list(branches.values()), key=len))


def _describe(error: Any) -> str:
    """What the schema wants, without quoting the value it found."""
    rule, value = error.validator, error.validator_value
    if rule == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        missing = [str(name) for name in value if name not in present]
        return "is missing " + ", ".join(missing)
    if rule == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        patterns = [re.compile(pattern) for pattern in error.schema.get("patternProperties", {})]
        names = error.instance if isinstance(error.instance, dict) else {}
        extra = sorted(
            name for name in names if name not in allowed and not any(p.search(name) for p in patterns)
        )
        return "has properties the schema does not allow: " + ", ".join(extra)
    if rule == "type":
        return f"must be of type {value}"
    if rule == "enum":
        if len(value) > ENUM_SHOWN:
            return f"must be one of the {len(value)} values the schema lists"
        return "must be one of: " + ", ".join(map(str, value))
    if rule == "const":
        return f"must be {value!r}"
    if rule == "pattern":
        return "is not in the form the schema requires"
    if rule == "format":
        return f"is not a valid {value}"
    if rule == "minLength":
        return "must not be empty" if value == 1 else f"must be at least {value} characters long"
    if rule == "maxLength":
        return f"must be at most {value} characters long"
    if rule == "minProperties":
        return "must not be empty"
    if rule == "minItems":
        return f"must list at least {value} item(s)"
    if rule == "maxItems":
        return f"must list at most {value} item(s)"
    if rule == "uniqueItems":
        return "lists the same item twice"
    if rule in ("minimum", "maximum"):
        return f"must be {'at least' if rule == 'minimum' else 'at most'} {value}"
    if rule == "contains":
        return "lacks an item the schema requires"
    return f"does not satisfy the schema's {rule!r} rule"
