"""Structure that holds by test, not by convention: imports follow the arrows written in
docs/architecture.md, and every ``tenant_id`` filter is written in a repository module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "core",
    "tenants",
    "transformers",
    "billing",
    "tasks",
    "workers",
    "gateway",
    "migrations",
)


def _arrows() -> dict[str, tuple[str, ...]]:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    table = re.search(r"<!-- import-arrows -->(.*?)<!-- /import-arrows -->", doc, re.S)
    assert table, "docs/architecture.md lost its import-arrows table"
    arrows: dict[str, tuple[str, ...]] = {}
    for line in table.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] in PACKAGES:
            arrows[cells[0]] = tuple(x.strip() for x in cells[1].split(",") if x.strip())
    assert set(arrows) == set(PACKAGES), sorted(arrows)
    return arrows


def _sources() -> list[Path]:
    return [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]


def _imports(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, module, the modules it may name): ``from transformers import registry`` names
    ``transformers`` or ``transformers.registry``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, (a.name,)) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            named = tuple(f"{node.module}.{a.name}" for a in node.names)
            out.append((node.lineno, node.module, named))
    return out


def _allowed(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_imports_follow_the_arrows_of_the_architecture_doc() -> None:
    arrows = _arrows()
    wrong = []
    for path in _sources():
        package = path.relative_to(ROOT).parts[0]
        for line, module, named in _imports(path):
            top = module.split(".")[0]
            if top not in PACKAGES or top == package:
                continue
            ok = _allowed(module, arrows[package]) or all(
                _allowed(n, arrows[package]) for n in named
            )
            if not ok:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert wrong == [], "\n".join(wrong)


def _is_model_column(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id[:1].isupper()
    )


def _is_model_tenant_column(node: ast.expr) -> bool:
    return _is_model_column(node) and isinstance(node, ast.Attribute) and node.attr == "tenant_id"


def test_tenant_filters_are_written_only_in_repository_modules() -> None:
    wrong = []
    for path in _sources():
        if path.name == "repository.py" or path.parts[-3:-1] == ("migrations", "versions"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Compare) or not any(
                isinstance(op, ast.Eq | ast.NotEq) for op in node.ops
            ):
                continue
            sides = [node.left, *node.comparators]
            # Model.tenant_id == <value> filters rows; Model.x == Other.tenant_id is a join,
            # and row.tenant_id == ... is a check in Python.
            if any(_is_model_tenant_column(x) for x in sides) and not all(
                _is_model_column(x) for x in sides
            ):
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert wrong == [], "tenant filters outside tenants/repository.py: " + ", ".join(wrong)


#: Modules that keep HTTP only: parse, call the domain, shape the answer.
HTTP_ONLY = ("gateway/routers/tasks.py",)
#: What only the domain does: statements, transactions, the S3 key layout.
_DOMAIN_CALLS = {
    "select",
    "insert",
    "update",
    "session_scope",
    "get_sessionmaker",
    "get_storage",
    "input_key",
    "task_prefix",
}
_SESSION_METHODS = {"execute", "scalars", "scalar", "get", "add", "delete", "flush", "commit"}


def _storage_methods() -> set[str]:
    """Every public method of the storage client (read from core/storage.py's ``Storage``)."""
    tree = ast.parse((ROOT / "core" / "storage.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Storage")
    return {
        f.name
        for f in cls.body
        if isinstance(f, ast.FunctionDef) and not f.name.startswith("_") and f.name != "read"
    }


def test_the_task_router_leaves_the_database_and_storage_to_the_task_domain() -> None:
    """The task routes hand ``session`` and ``storage`` to ``tasks.service`` /
    ``tasks.intake`` and never use them themselves: no import of SQLAlchemy or the session
    factory, no statement, no transaction, no storage call, no S3 key built here."""
    storage_methods = _storage_methods()
    assert {"head", "presign_get", "upload_file", "get_bytes"} <= storage_methods
    wrong = []
    for rel in HTTP_ONLY:
        tree = ast.parse((ROOT / rel).read_text(), rel)
        # Calls on an imported module (``intake.upload_file``) or a router's decorators
        # (``router.delete``) are not storage calls.
        not_storage = {
            (a.asname or a.name).split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.Import | ast.ImportFrom)
            for a in n.names
        } | {"router", "callbacks_router"}
        for node in ast.walk(tree):
            where = f"{rel}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                wrong += [
                    f"{where} imports {m}"
                    for m in modules
                    if m.split(".")[0] == "sqlalchemy" or m == "core.db"
                ]
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id in _DOMAIN_CALLS:
                wrong.append(f"{where} calls {func.id}()")
            if isinstance(func, ast.Attribute):
                receiver = func.value.id if isinstance(func.value, ast.Name) else ""
                if func.attr in _DOMAIN_CALLS or (
                    receiver == "session" and func.attr in _SESSION_METHODS
                ):
                    wrong.append(f"{where} calls {receiver}.{func.attr}()")
                elif receiver not in not_storage and func.attr in storage_methods:
                    wrong.append(f"{where} calls {receiver}.{func.attr}() (storage)")
    assert wrong == [], "\n".join(wrong)
