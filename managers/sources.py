"""Where a blob is known to live in a registry: containerd's ``containerd.io/distribution.source.<domain>``
content label, whose value is the repositories of that registry holding the blob (comma-separated).

A pull records its repository on every config and layer it stores (as containerd's and nerdctl's pulls
do), a push the repository it pushed to; a push to another repository of the same registry then asks the
registry to mount the blob from one of them (``POST …/blobs/uploads/?mount=…&from=…``) instead of
uploading it. The label is read back from the content store, where any client may have written it, so
each repository named is checked as a repository name before it goes into a request.
"""

from __future__ import annotations

from collections.abc import Mapping

from ctrd.errors import InvalidArgument
from managers import reference
from managers.labels import LABEL, MAX_LABEL_BYTES

__all__ = ["added", "sources"]


def _key(domain: str) -> str:
    return LABEL.DISTRIBUTION_SOURCE + domain


def _named(labels: Mapping[str, str], domain: str) -> list[str]:
    return [r for r in (labels.get(_key(domain)) or "").split(",") if r]


def sources(labels: Mapping[str, str], domain: str, *, besides: str) -> list[str]:
    """The repositories of ``domain`` other than ``besides`` that a blob with these labels is in, the
    last recorded first; names that are not repository names are left out."""
    found: list[str] = []
    for repo in reversed(_named(labels, domain)):
        if repo == besides or repo in found:
            continue
        try:
            if reference.parse(f"{domain}/{repo}").path != repo:
                continue
        except InvalidArgument:
            continue
        found.append(repo)
    return found


def added(labels: Mapping[str, str], domain: str, repo: str) -> dict[str, str]:
    """The label update recording ``repo`` of ``domain`` on a blob with these labels: empty when it is
    recorded already. The repository is moved last (the most recent); the oldest names give way when the
    label would pass containerd's size limit for a label."""
    key = _key(domain)
    current = _named(labels, domain)
    if current and current[-1] == repo:
        return {}
    repos = [r for r in current if r != repo] + [repo]
    while len(repos) > 1 and len(key.encode()) + len(",".join(repos).encode()) > MAX_LABEL_BYTES:
        repos.pop(0)
    value = ",".join(repos)
    if len(key.encode()) + len(value.encode()) > MAX_LABEL_BYTES:
        return {}  # a name that long cannot be recorded: the push just uploads next time
    return {key: value}
