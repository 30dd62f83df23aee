"""Models on the Hugging Face Hub: fetching `hf://ORG/NAME[@REVISION]`, publishing.

A model folder is `config.json` + `model.safetensors` + its card `README.md` (`model/card.py`):
uploading the folder publishes the model, and `Colorizer.load(folder)` reads it back without `huggingface_hub`.
`resolve_model("hf://ORG/NAME")` fetches a repository's snapshot with `huggingface_hub` (into its
cache, or only from it under `HF_HUB_OFFLINE=1`) and gives its local folder. Nothing here needs torch.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


# ---- hf://ORG/NAME[@REVISION]

HUB_PREFIX = "hf://"
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
_TRUE = {"1", "ON", "YES", "TRUE"}


def is_hub(path: str | os.PathLike | None) -> bool:
    return isinstance(path, str) and path.startswith(HUB_PREFIX)


def parse_hub(spec: str) -> tuple[str, str | None]:
    """'hf://ORG/NAME@REVISION' -> ('ORG/NAME', 'REVISION'); the revision is optional (None: main)."""
    repo_id, at, revision = spec[len(HUB_PREFIX):].partition("@")
    if not _REPO_ID.fullmatch(repo_id) or (at and not revision):
        raise ValueError(f"{spec!r}: expected hf://ORG/NAME or hf://ORG/NAME@REVISION")
    return repo_id, revision or None


def resolve_model(path: str | os.PathLike) -> Path:
    """A model folder on this machine: a local path as it is, or an hf:// repository's snapshot.

    The snapshot is downloaded into the Hugging Face cache, or, offline (`HF_HUB_OFFLINE=1`), read
    from it; a repository or revision that cannot be had raises FileNotFoundError naming it.
    """
    if not is_hub(path):
        return Path(path)
    repo_id, revision = parse_hub(path)
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError as e:  # a FileNotFoundError, as every other model that cannot be had
        raise FileNotFoundError(f"{path}: models from the Hub need huggingface_hub: "
                                f"pip install 'artcolor[hf]' ({e})") from None
    offline = _offline()
    try:
        folder = snapshot_download(repo_id, revision=revision, cache_dir=os.environ.get("HF_HUB_CACHE") or None,
                                   local_files_only=offline, library_name="artcolor")
    except LocalEntryNotFoundError:
        where = "not in the local Hugging Face cache" + (" (HF_HUB_OFFLINE=1: nothing is downloaded)" if offline else
                                                         " and the Hub cannot be reached")
        raise FileNotFoundError(f"{path}: {where}") from None
    except (HfHubHTTPError, ValueError) as e:  # no such repository or revision, no access, a bad name
        raise FileNotFoundError(f"{path}: cannot fetch from the Hugging Face Hub ({str(e).splitlines()[0]})") from None
    return Path(folder)


def _offline() -> bool:
    """HF_HUB_OFFLINE as set now (huggingface_hub reads it once, at import)."""
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE or bool(constants.HF_HUB_OFFLINE)


def push_folder(folder: str | os.PathLike, repo_id: str, private: bool | None = None, token: str | None = None,
                commit_message: str = "Upload artcolor model") -> str:
    """Upload a model folder (or an ONNX export folder) to the Hub repository `repo_id`, creating it
    if needed; returns the commit's URL. The same as `hf upload ORG/NAME FOLDER`."""
    if not _REPO_ID.fullmatch(repo_id):
        raise ValueError(f"repo_id must be ORG/NAME, got {repo_id!r}")
    from huggingface_hub import HfApi

    api = HfApi(token=token, library_name="artcolor")
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    commit = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model",
                               commit_message=commit_message)
    return str(getattr(commit, "commit_url", commit))
