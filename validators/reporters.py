"""Output formats for findings: text, json, github (workflow commands) and SARIF 2.1.0."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from recipegen.textsafe import printable

if TYPE_CHECKING:
    from recipegen.validators.model import Finding

FORMATS = ("text", "json", "github", "sarif")
_INFO_URI = "https://github.com/recipegen/recipegen#lint"


def text(findings: list[Finding], files: int) -> str:
    lines = [printable(f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}") for f in findings]
    if findings:
        n_err = sum(f.severity == "error" for f in findings)
        lines.append(f"Found {len(findings)} finding(s) ({n_err} error(s)) in {files} file(s).")
    else:
        lines.append(f"All checks passed ({files} file(s)).")
    return "\n".join(lines)


def as_json(findings: list[Finding], files: int) -> str:
    import json

    from recipegen.validators.registry import get_rule

    out = [
        {
            "code": f.code,
            "name": get_rule(f.code).name,
            "severity": f.severity,
            "message": f.message,
            "filename": f.path,
            "location": {"row": f.line, "column": f.col},
        }
        for f in findings
    ]
    return json.dumps(out, indent=2)


def github(findings: list[Finding], files: int) -> str:
    def esc(s: str) -> str:
        s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return printable(s)

    out = []
    for f in findings:
        level = "error" if f.severity == "error" else "warning"
        path = esc(f.path).replace(",", "%2C").replace(":", "%3A")
        out.append(
            f"::{level} file={path},line={f.line},col={f.col},title={f.code}::"
            f"{esc(f.code + ' ' + f.message)}"
        )
    return "\n".join(out)


def fingerprint(f: Finding, occurrence: int) -> str:
    """Stable across line shifts: rule, file, the offending line's text and its occurrence."""
    key = "\x1f".join((f.code, f.path, " ".join(f.snippet.split()), str(occurrence)))
    import hashlib  # SARIF output only

    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def sarif_uri(path: str) -> str:
    """A relative URI reference for `path` (RFC 3986): every byte outside the unreserved set and
    `/` is percent-encoded, so `#`, `?`, `%` and spaces in file names survive."""
    from urllib.parse import quote  # SARIF output only

    return quote(path.replace("\\", "/"), safe="/", errors="surrogateescape")


def sarif(findings: list[Finding], files: int) -> str:
    import json

    from recipegen.validators.registry import all_rules

    from recipegen import __version__

    rules = all_rules()
    index = {r.code: i for i, r in enumerate(rules)}
    seen: Counter = Counter()
    results = []
    for f in findings:
        k = (f.code, f.path, " ".join(f.snippet.split()))
        seen[k] += 1
        results.append(
            {
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": "error" if f.severity == "error" else "warning",
                "message": {"text": f.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {
                                "uri": sarif_uri(f.path),
                                "uriBaseId": "%SRCROOT%",
                            },
                            "region": {"startLine": f.line, "startColumn": f.col},
                        }
                    }
                ],
                "partialFingerprints": {"recipegenFingerprint/v1": fingerprint(f, seen[k])},
            }
        )
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "recipegen",
                        "version": __version__,
                        "informationUri": _INFO_URI,
                        "rules": [
                            {
                                "id": r.code,
                                "name": r.name,
                                "shortDescription": {"text": r.summary},
                                "fullDescription": {"text": r.summary},
                                "help": {"text": r.doc, "markdown": r.doc},
                                "defaultConfiguration": {
                                    "level": "error" if r.severity == "error" else "warning"
                                },
                                "properties": {"gotchas": list(r.gotchas)},
                            }
                            for r in rules
                        ],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "lint root"}}},
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2)


def statistics(findings: list[Finding]) -> str:
    from recipegen.validators.registry import get_rule

    counts = Counter(f.code for f in findings)
    return "\n".join(
        f"{n:>5}  {code}  {get_rule(code).name}"
        for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )


RENDER = {"text": text, "json": as_json, "github": github, "sarif": sarif}
