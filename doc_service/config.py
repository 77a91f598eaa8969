"""Where runtime state lives: the instance folder and its settings.

Every command and the web app find their database, keys and archive in the
folder named by ``DOC_SERVICE_INSTANCE`` (``./instance`` by default), like
Flask's instance folder.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FORMS_ROOT = PROJECT_ROOT / "templates" / "forms"
FONTS_ROOT = PROJECT_ROOT / "templates" / "fonts"


def instance_path() -> Path:
    """The instance folder, created on first use with owner-only permissions."""
    path = Path(os.environ.get("DOC_SERVICE_INSTANCE", "instance")).resolve()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def instance_secret(instance: os.PathLike[str] | str) -> str:
    """A per-instance random secret, created once with owner-only permissions."""
    path = Path(instance) / "secret_key"
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


@dataclass(frozen=True)
class Institution:
    """The school that issues documents (names printed on every form)."""

    name: str = "西安交通工程学院"
    """The school's full name, printed in titles and on the school seal."""
    code: str = "DEMO"
    """The school's code, the first part of every 档号 (set the real one in institution.json)."""
    registrar_office: str = "教务处"
    student_office: str = "学生处"
    regulation: str = "《西安交通工程学院学籍管理实施细则》"
    """The regulation a withdrawal notice relies on (seed 004, 附表4)."""
    public_base_url: str = "http://127.0.0.1:8000"
    """Base of the short verification URL printed as a QR code."""
    colleges: tuple[str, ...] = field(default_factory=lambda: ("交通运输学院", "信息工程学院"))


def load_institution(path: Path | None = None) -> Institution:
    """Read ``institution.json`` from the instance folder, falling back to defaults.

    ``DOC_SERVICE_PUBLIC_URL`` overrides the verification base URL, so the
    same instance can be served under its real host name.
    """
    base = path or instance_path()
    data: dict[str, object] = {}
    f = base / "institution.json"
    if f.exists():
        data = json.loads(f.read_text(encoding="utf-8"))
    if "colleges" in data:
        data["colleges"] = tuple(data["colleges"])  # type: ignore[arg-type]
    inst = Institution(**data)  # type: ignore[arg-type]
    url = os.environ.get("DOC_SERVICE_PUBLIC_URL")
    if url:
        inst = Institution(**{**inst.__dict__, "public_base_url": url.rstrip("/")})
    return inst
