"""The addresses of a deployed Cloud Function (2nd gen), from one definition.

A 2nd-gen function answers on two kinds of address: its Cloud Run service's ``run.app``
URLs and the ``cloudfunctions.net`` URL of the Cloud Functions API. Both are fixed by
the function's name, project and region (the deterministic ``run.app`` form by the
project *number*), so the Pulumi program and the function itself derive them here:

* the program passes ingest-http the list of ID-token audiences it accepts (both URLs)
  and exports the ``run.app`` one as the URL callers mint tokens for;
* ingest-http checks each token's ``aud`` against exactly that list, never against the
  request's own host (behind Cloud Run's TLS termination the host URL says ``http://``).

Formats: https://cloud.google.com/run/docs/triggering/https-request (deterministic
``https://SERVICE-PROJECT_NUMBER.REGION.run.app``) and
https://cloud.google.com/functions/docs/calling/http (``https://REGION-PROJECT.cloudfunctions.net/NAME``).
"""

from __future__ import annotations


def run_app_url(name: str, project_number: str, region: str) -> str:
    """The function's deterministic Cloud Run URL."""
    return f"https://{name}-{project_number}.{region}.run.app"


def cloudfunctions_url(name: str, project: str, region: str) -> str:
    """The function's Cloud Functions URL."""
    return f"https://{region}-{project}.cloudfunctions.net/{name}"


def audiences(name: str, project: str, project_number: str, region: str) -> tuple[str, str]:
    """Every audience an ID token for this function may carry: its two URLs."""
    return run_app_url(name, project_number, region), cloudfunctions_url(name, project, region)


def audience_matches(audience: str, accepted: tuple[str, ...]) -> bool:
    """Exact match, ignoring one trailing slash (Google accepts the URL with or without)."""
    return bool(audience) and audience.rstrip("/") in {a.rstrip("/") for a in accepted if a}
