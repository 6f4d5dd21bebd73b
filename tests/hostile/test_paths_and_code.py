"""Messages, paths and code: nothing a rule file or a document holds is ever run.

- A placeholder names a value, never an attribute, a method, an index or a format: each of
  those is a load-time error, and a message never shows more than the values of the rule.
- A pack reads only its own folder: links that lead out are not read (P008), nor are named
  pipes or devices, which would block or never end (P001).
- The source of `checker/` passes nothing to eval, exec, compile, pickle, marshal, a shell or
  a template engine; YAML is read by safe loaders only; the worker protocol is JSON. The
  few dynamic attribute reads and `str.format` calls are listed here, each reviewed.
"""

from __future__ import annotations

import ast
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from checker.diagnostics import BcmError
from checker.lang.pack import lint_paths, load_checked_pack

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / "checker"


def rule_with_message(message: str) -> str:
    return (
        "principle normative_coherence {\n"
        '  title en "Normative coherence"\n'
        "  rule hostile {\n"
        "    kind note\n"
        "    let prior = latest h in history where h.scope == proposal.scope\n"
        "    when prior is not null\n"
        "    severity low\n"
        f'    message en "{message}"\n'
        '    remedy en "r"\n'
        "  }\n"
        "}\n"
    )


def lint_text(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    (tmp_path / "rules.bcm").write_text(text, encoding="utf-8")
    diagnostics, _ = lint_paths([str(tmp_path)])
    return [(d.code, d.message) for d in diagnostics if d.is_error]


@pytest.mark.parametrize(
    ("placeholder", "message"),
    [
        ("{proposal.__class__}", "`{proposal.__class__}` names a private attribute"),
        ("{proposal.__dict__}", "`{proposal.__dict__}` names a private attribute"),
        ("{proposal.id.__len__}", "`{proposal.id.__len__}` names a private attribute"),
        ("{prior.__class__.__mro__}", "`{prior.__class__.__mro__}` names a private attribute"),
        ("{proposal._fields}", "`{proposal._fields}` names a private attribute"),
        ("{proposal[0]}", "`{proposal[0]}` is not a name or a field"),
        ("{proposal.id!r}", "`{proposal.id!r}` is not a name or a field"),
        ("{proposal.id:>99999}", "`{proposal.id:>99999}` is not a name or a field"),
        ("{0}", "`{0}` is not a name or a field"),
        ("{}", "`{}` is not a name or a field"),
        ("{proposal.id()}", "`{proposal.id()}` is not a name or a field"),
        ("{__import__}", "`{__import__}` names a private attribute"),
    ],
)
def test_a_placeholder_cannot_reach_attributes_or_methods(
    tmp_path: Path, placeholder: str, message: str
) -> None:
    found = lint_text(tmp_path, rule_with_message(f"see {placeholder}"))
    assert ("E502", message) in found, found


def test_an_extension_field_named_like_an_attribute_is_data(tmp_path: Path) -> None:
    # `extensions` is a map of the document's own data: `__class__` there is a key, read as
    # one (null when absent), never an attribute of anything.
    text = (
        rule_with_message("{e}")
        .replace("let prior = latest h in history where h.scope == proposal.scope", "")
        .replace("when prior is not null", "let e = proposal.extensions.__class__\n    when true")
    )
    (tmp_path / "rules.bcm").write_text(text, encoding="utf-8")
    (tmp_path / "pack.toml").write_text('name = "p"\nversion = "1"\n', encoding="utf-8")
    from checker.api import load_pack

    proposal = {
        "id": "P1",
        "title": "t",
        "jurisdiction": "JP",
        "area": "exit",
        "target": "t",
        "direction": "expand",
        "magnitude": "minor",
        "instrument": "act",
        "legal_basis": [],
        "effective_on": "2024-01-01",
    }
    with load_pack(tmp_path) as pack:
        absent = pack.check(proposal).findings[0].message
        given = pack.check({**proposal, "extensions": {"__class__": "data"}}).findings[0].message
    assert (absent, given) == ("—", "data")


# --- paths ----------------------------------------------------------------------------------


@pytest.fixture
def pack_with_secret(tmp_path: Path) -> tuple[Path, Path]:
    pack = tmp_path / "pack"
    pack.mkdir()
    secret = tmp_path / "secret.bcm"
    secret.write_text(
        'principle human_dignity {\n  title en "SECRET-OUTSIDE-THE-PACK"\n}\n',
        encoding="utf-8",
    )
    for rule in (ROOT / "rules").glob("*.bcm"):
        (pack / rule.name).write_text(rule.read_text(encoding="utf-8"), encoding="utf-8")
    return pack, secret


def test_a_link_out_of_the_pack_is_not_read(pack_with_secret: tuple[Path, Path]) -> None:
    pack, secret = pack_with_secret
    (pack / "evil.bcm").symlink_to(secret)
    (pack / "up.bcm").symlink_to(Path("..") / secret.name)
    (pack / "pack.toml").symlink_to("/etc/hostname" if Path("/etc/hostname").exists() else secret)
    diagnostics, sources = lint_paths([str(pack)])
    p008 = sorted(d.message for d in diagnostics if d.code == "P008")
    assert p008 == [
        f"`{pack / name}` leads outside the pack folder; it was not read"
        for name in ("evil.bcm", "pack.toml", "up.bcm")
    ]
    assert not any("SECRET-OUTSIDE-THE-PACK" in text for text in sources.values())
    with pytest.raises(BcmError):
        load_checked_pack(str(pack))


def test_a_link_inside_the_pack_is_read(pack_with_secret: tuple[Path, Path]) -> None:
    pack, _ = pack_with_secret
    (pack / "docs").mkdir()
    (pack / "docs" / "x.txt").write_text("not a rule file", encoding="utf-8")
    (pack / "zz_again.bcm").symlink_to("normative_coherence.bcm")
    diagnostics, _ = lint_paths([str(pack)])
    # the same rules twice: their ids clash, which proves the linked file was read
    assert "E102" in {d.code for d in diagnostics}
    assert "P008" not in {d.code for d in diagnostics}


def test_a_linked_pack_folder_reads_its_own_files_only(
    pack_with_secret: tuple[Path, Path], tmp_path: Path
) -> None:
    pack, secret = pack_with_secret
    (pack / "evil.bcm").symlink_to(secret)
    alias = tmp_path / "alias"
    alias.symlink_to(pack, target_is_directory=True)
    diagnostics, sources = lint_paths([str(alias)])
    assert [d.code for d in diagnostics if d.code == "P008"] == ["P008"]
    assert not any("SECRET-OUTSIDE-THE-PACK" in text for text in sources.values())


@pytest.mark.parametrize("kind", ["fifo", "device", "loop"])
def test_a_file_that_is_not_a_regular_file_is_not_read(
    pack_with_secret: tuple[Path, Path], kind: str
) -> None:
    pack, _ = pack_with_secret
    target = pack / "zz.bcm"
    if kind == "fifo":
        os.mkfifo(target)  # reading it would wait for a writer forever
        expected = f"cannot read `{target}`: not a regular file"
    elif kind == "device":
        (pack / "dev").symlink_to("/dev", target_is_directory=True)
        target = pack / "dev" / "zero"  # not a .bcm name: shows that no such path is taken
        (pack / "zero.bcm").symlink_to("/dev/zero")
        expected = f"`{pack / 'zero.bcm'}` leads outside the pack folder; it was not read"
    else:
        target.symlink_to("zz.bcm")
        expected = f"cannot read `{target}`: Too many levels of symbolic links"
    answers: list[Any] = []
    # in a thread: were a named pipe opened for reading, it would wait for a writer forever
    reader = threading.Thread(target=lambda: answers.append(lint_paths([str(pack)])), daemon=True)
    reader.start()
    reader.join(20)
    assert answers, "bcm lint did not finish: it is waiting on a file"
    diagnostics, _ = answers[0]
    assert expected in [d.message for d in diagnostics]


def test_pack_paths_are_only_the_folder_entries(tmp_path: Path) -> None:
    # A pack lists its own folder: a manifest cannot name files, so `..` has no way in.
    (tmp_path / "pack.toml").write_text(
        'name = "p"\nversion = "1"\nfiles = ["../secret.bcm"]\ninclude = "/etc/passwd"\n',
        encoding="utf-8",
    )
    (tmp_path / "a.bcm").write_text('principle human_dignity { title en "t" }\n')
    diagnostics, _ = lint_paths([str(tmp_path)])
    assert {(d.code, d.message) for d in diagnostics if d.code == "P004"} == {
        ("P004", "`files` is not a setting of pack.toml"),
        ("P004", "`include` is not a setting of pack.toml"),
    }


# --- code: nothing from a rule or a document is ever run ------------------------------------


def _sources() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(ROOT)), ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(CHECKER.rglob("*.py"))
    ]


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _name(node: ast.AST) -> str:
    return ast.unparse(node)


FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "execfile", "input", "breakpoint"}
FORBIDDEN_MODULES = {
    "pickle",
    "cPickle",
    "_pickle",
    "dill",
    "cloudpickle",
    "marshal",
    "shelve",
    "jinja2",
    "mako",
    "cheetah",
    "genshi",
    "chameleon",
    "subprocess",
    "pty",
    "code",
    "codeop",
    "runpy",
}
FORBIDDEN_ATTRIBUTES = {
    "os.system",
    "os.popen",
    "os.execv",
    "os.execve",
    "os.execl",
    "os.spawnv",
    "os.spawnl",
    "os.posix_spawn",
    "yaml.load_all",
    "yaml.unsafe_load",
    "yaml.full_load",
    "yaml.FullLoader",
    "yaml.UnsafeLoader",
    "yaml.Loader",
    "yaml.CLoader",
    "yaml.CUnsafeLoader",
    "yaml.CFullLoader",
    "operator.attrgetter",
    "operator.methodcaller",
}
# Alembic writes new migration scripts from this Mako template, for developers only; bcm
# never renders it, and it holds nothing from rules or documents.
TEMPLATES_OF_TOOLS = {"checker/migrations/script.py.mako"}


def test_nothing_in_checker_runs_code_or_unpickles() -> None:
    found = []
    for file, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and _imports_code(node):
                found.append(f"{file}:{node.lineno}: {_name(node)}")
            if isinstance(node, ast.Import):
                found += [f"{file}: import {a.name}" for a in node.names if _forbidden(a.name)]
            elif isinstance(node, ast.ImportFrom) and node.module and _forbidden(node.module):
                found.append(f"{file}: from {node.module} import ...")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id in FORBIDDEN_CALLS:
                    found.append(f"{file}:{node.lineno}: {node.func.id}(...)")
            elif isinstance(node, ast.Attribute) and _name(node) in FORBIDDEN_ATTRIBUTES:
                found.append(f"{file}:{node.lineno}: {_name(node)}")
    assert found == []


def _forbidden(module: str) -> bool:
    return module.split(".")[0] in FORBIDDEN_MODULES


def _imports_code(node: ast.Import | ast.ImportFrom) -> bool:
    """importlib, save its resources (the grammar file) and modules named in the source."""
    if isinstance(node, ast.ImportFrom):
        return node.module == "importlib" and any(a.name != "resources" for a in node.names)
    return False


def test_modules_are_imported_by_names_written_in_the_source() -> None:
    dynamic = [
        f"{file}:{call.lineno}"
        for file, tree in _sources()
        for call in _calls(tree)
        if _name(call.func).endswith("import_module")
        and not (call.args and isinstance(call.args[0], ast.Constant))
    ]
    assert dynamic == []


def test_no_call_runs_a_shell() -> None:
    shell = [
        f"{file}:{call.lineno}"
        for file, tree in _sources()
        for call in _calls(tree)
        for keyword in call.keywords
        if keyword.arg == "shell"
        and not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False)
    ]
    assert shell == []


def test_yaml_is_read_with_safe_loaders_only() -> None:
    loads = []
    for file, tree in _sources():
        for call in _calls(tree):
            if _name(call.func) in ("yaml.load", "yaml.parse", "yaml.compose"):
                loader = next((k.value for k in call.keywords if k.arg == "Loader"), None)
                loads.append((file, _name(loader) if loader is not None else None))
    assert loads, "no YAML reading found: this test looks in the wrong place"
    for file, loader in loads:
        assert loader is not None and "Safe" in loader, (file, loader)
    from checker.loading import _SafeLoader

    assert issubclass(_SafeLoader, __import__("yaml").SafeLoader)


def test_the_worker_protocol_is_json_never_pickles() -> None:
    # multiprocessing's Connection.send/recv pickle; the workers use send_bytes/recv_bytes
    # with JSON, so a document's values cannot become objects on the way.
    (tree,) = [t for f, t in _sources() if f == "checker/workers.py"]
    attributes = {_name(c.func).rsplit(".", 1)[-1] for c in _calls(tree)}
    assert {"send_bytes", "recv_bytes"} <= attributes
    assert not attributes & {"send", "recv", "Queue", "SimpleQueue", "Manager", "Pool"}


# Dynamic attribute reads and str.format calls, each reviewed: none takes a name or a
# template from a rule file or a document.
REVIEWED_GETATTR = {
    "checker/__init__.py": "lazy public names of checker.api",
    "checker/cli.py": "argparse results and OS errors",
    "checker/docsgen.py": "the fields of AST dataclasses",
    "checker/loading.py": "pydantic model_fields",
    "checker/semantics.py": "pydantic model_fields",
    "checker/lang/parse.py": "the methods of the parser's own transformer class",
}
# (file, template): what the template is. Values from rules may be arguments, never templates.
REVIEWED_FORMAT = {
    ("checker/report_html.py", "word('proposals_count', lang)"): "a text of the i18n table",
    ("checker/lang/check.py", "message"): "the messages of check.py's table of functions",
}


def test_dynamic_attribute_reads_are_the_reviewed_ones() -> None:
    found: set[str] = set()
    for file, tree in _sources():
        for call in _calls(tree):
            if _name(call.func) in ("getattr", "setattr", "delattr", "vars", "globals", "locals"):
                args = call.args[1:2]
                literal = args and isinstance(args[0], ast.Constant)
                if not literal or _name(call.func) != "getattr":
                    found.add(file)
    assert found <= set(REVIEWED_GETATTR), sorted(found - set(REVIEWED_GETATTR))


def test_format_calls_are_the_reviewed_ones() -> None:
    found = set()
    for file, tree in _sources():
        for call in _calls(tree):
            func = call.func
            if isinstance(func, ast.Attribute) and func.attr in ("format", "format_map"):
                receiver = func.value
                if isinstance(receiver, ast.Constant):
                    continue  # a literal template of ours
                found.add((file, _name(receiver)))
    assert found <= set(REVIEWED_FORMAT), sorted(found - set(REVIEWED_FORMAT))


def test_the_only_template_files_are_of_tools() -> None:
    templates = {
        str(p.relative_to(ROOT))
        for suffix in ("*.mako", "*.j2", "*.jinja", "*.jinja2", "*.tmpl")
        for p in CHECKER.rglob(suffix)
    }
    assert templates == TEMPLATES_OF_TOOLS


# --- reports: text from documents is shown, never markup --------------------------------------

EVIL = '"><script>alert(1)</script><img src=x onerror=alert(2)>`| x'


@pytest.mark.parametrize("form", ["html", "md", "junit", "sarif", "json"])
def test_text_from_a_document_never_becomes_markup_in_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    import json
    import re
    import xml.etree.ElementTree as ElementTree

    from checker.cli import main

    proposal = json.loads((ROOT / "examples/jp/proposals/demo-conflict.json").read_text())
    proposal.update(id=f"P-{EVIL}", title=EVIL, target=EVIL)
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(proposal), encoding="utf-8")
    history = str(ROOT / "examples/jp/history.jsonl")
    main(["check", str(path), "--history", history, "--format", form])
    shown = capsys.readouterr().out
    if form == "html":
        assert "<script>alert" not in shown and "<img src=x" not in shown
        assert "&lt;script&gt;alert(1)" in shown
    elif form == "md":
        # raw HTML only inside code spans, where Markdown shows it as written
        outside = re.sub(r"(`+) ?.*? ?\1", "", shown)
        assert "<script>" not in outside and "<img" not in outside
        assert "&lt;script&gt;" in shown
    elif form == "junit":
        texts = " ".join(e.get("name", "") for e in ElementTree.fromstring(shown).iter())
        assert EVIL in texts
    else:  # JSON: the text as a value, whatever it holds
        assert EVIL in json.dumps(json.loads(shown), ensure_ascii=False)
