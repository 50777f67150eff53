"""Every YAML file in the repository is yamllint-clean under the project's .yamllint."""

from __future__ import annotations

import os
from pathlib import Path

from yamllint import linter
from yamllint.config import YamlLintConfig

ROOT = Path(__file__).resolve().parents[2]


SKIP_DIRS = {".venv", "var", ".git", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache"}


def _yaml_files(conf: YamlLintConfig) -> list[Path]:
    out = [ROOT / ".yamllint"]
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(ROOT))
            if path.suffix in (".yaml", ".yml") and not conf.is_file_ignored(rel):
                out.append(path)
    return sorted(out)


def test_yamllint_clean() -> None:
    """No yamllint error anywhere (what makes ``yamllint .`` exit non-zero); the files this
    repository generates or keeps under infra/k8s and infra/compose.yaml not even a warning."""
    conf = YamlLintConfig(file=str(ROOT / ".yamllint"))
    files = _yaml_files(conf)
    assert any(p.name == "compose.yaml" for p in files)
    assert any(p.name == "workers.generated.yaml" for p in files)
    strict = ("infra/k8s/", "infra/compose.yaml", "infra/prometheus/", "infra/grafana/")
    problems = []
    for p in files:
        rel = str(p.relative_to(ROOT))
        for problem in linter.run(p.read_text(), conf, str(p)):
            if problem.level == "error" or rel.startswith(strict):
                problems.append(f"{rel}:{problem.line}:{problem.column} {problem.desc}")
    assert not problems, "\n".join(problems)


def test_yamllint_config_catches_a_problem() -> None:
    conf = YamlLintConfig(file=str(ROOT / ".yamllint"))
    bad = "---\nkey: value   \nkey: again\n"
    rules = {p.rule for p in linter.run(bad, conf)}
    assert {"trailing-spaces", "key-duplicates"} <= rules
