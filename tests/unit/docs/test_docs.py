"""Every command in the docs stays tested, without a broker.

README.md and docs/*.md are read for commands, in ```sh blocks and in
`inline code`:
- `make X`: X is a target of the Makefile;
- `python -m MODULE ...`: MODULE can be run, its leading words (subcommands,
  choices) and every flag appear in `python -m MODULE ... --help`, and path
  arguments exist;
- `oms ...`: the `oms` command's own parser accepts the line, and every flag
  appears in that subcommand's help (argparse would accept abbreviations).
Besides: every OMS_* variable named exists in the code, every relative link
(and its #anchor) resolves, and the README stays at most 210 lines.
The grpcurl lines are run against the platform by tests/e2e/test_readme.py.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from topology.config import Config, env_name

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 210
# Generated from the configuration model (topology/config.py) by its own
# script; a link to it may come before the file does.
GENERATED = {ROOT / "docs" / "configuration.md"}
# The settings, and the variables of the SDK/CLI and of the tests themselves.
KNOWN_VARIABLES = {env_name(field) for field in Config.model_fields} | {
    "OMS_TARGET",
    "OMS_CHAOS_SEED",
    "OMS_TOKEN",
    "OMS_TLS_CA",
    "OMS_TLS_CLIENT_CERT",
    "OMS_TLS_CLIENT_KEY",
}

PYTHON = re.compile(r"(^|/)python[0-9.]*$")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
COMMAND_STARTS = ("make ", "oms ", "python -m ", "python3 -m ")


# -- reading the docs ---------------------------------------------------------


def sh_lines(text: str) -> list[str]:
    blocks = re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M)
    return [line for block in blocks for line in block.splitlines()]


def without_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def inline_commands(text: str) -> list[str]:
    spans = re.findall(r"`([^`\n]+)`", without_code_blocks(text))
    return [span for span in spans if span.startswith(COMMAND_STARTS) or ENV_ASSIGNMENT.match(span)]


def commands(text: str) -> list[list[str]]:
    """Each simple command of the doc as argv, without leading VAR=value."""
    found = []
    for line in [*sh_lines(text), *inline_commands(text)]:
        for part in re.split(r"&&|\|\||[|;]", line):
            try:
                argv = shlex.split(part, comments=True)
            except ValueError:  # an unbalanced quote: not a command of ours
                continue
            while argv and ENV_ASSIGNMENT.match(argv[0]):
                argv = argv[1:]
            if argv:
                found.append(argv)
    return found


def doc_commands(kind: str) -> Iterator[tuple[str, list[str]]]:
    for doc in DOCS:
        for argv in commands(doc.read_text()):
            if command_kind(argv) == kind:
                yield f"{doc.relative_to(ROOT)}: {shlex.join(argv)}", argv


def command_kind(argv: list[str]) -> str:
    if argv[0] == "make":
        return "make"
    if argv[0] == "oms":
        return "oms"
    if PYTHON.search(argv[0]) and len(argv) > 2 and argv[1] == "-m":
        return "python -m"
    return "other"


def split_words(args: list[str]) -> tuple[list[str], list[str]]:
    """Leading words (subcommands, choices, paths) and every --flag used."""
    words: list[str] = []
    for arg in args:
        if arg.startswith("-"):
            break
        words.append(arg)
    flags = [arg.split("=", 1)[0] for arg in args if arg.startswith("-") and arg != "-"]
    return words, flags


def mentions(help_text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", help_text) is not None


# -- the checks: each returns what is wrong -----------------------------------


@functools.cache
def makefile_targets() -> frozenset[str]:
    text = (ROOT / "Makefile").read_text()
    return frozenset(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.M))


def make_problems(argv: list[str]) -> list[str]:
    targets = [arg for arg in argv[1:] if not arg.startswith("-") and "=" not in arg]
    if not targets:
        return ["`make` without a target"]
    return [f"no Makefile target {target!r}" for target in targets if target not in makefile_targets()]


@functools.cache
def module_help(module: str, words: tuple[str, ...]) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), str(ROOT / "gen"), env.get("PYTHONPATH")]))
    run = subprocess.run(
        [sys.executable, "-m", module, *words, "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return run.stdout + run.stderr


def runnable(module: str) -> bool:
    try:
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations is not None:
            spec = importlib.util.find_spec(f"{module}.__main__")
    except ImportError:
        return False
    return spec is not None


def python_m_problems(argv: list[str]) -> list[str]:
    module, args = argv[2], argv[3:]
    if not runnable(module):
        return [f"`python -m {module}`: no such module (or package without __main__)"]
    words, flags = split_words(args)
    problems, asked = [], []
    for word in words:
        if "/" in word or word.endswith((".py", ".md")):
            if not (ROOT / word).exists():
                problems.append(f"`python -m {module}`: no path {word!r}")
            continue
        if not mentions(module_help(module, tuple(asked)), word):
            problems.append(f"`python -m {module} {' '.join(asked)}`: its --help does not offer {word!r}")
        asked.append(word)
    if flags:
        help_text = module_help(module, tuple(asked))
        missing = [flag for flag in flags if not mentions(help_text, flag)]
        problems += [f"`python -m {module}`: its --help has no {flag}" for flag in missing]
    return problems


def oms_parse(args: list[str]) -> tuple[int, str]:
    """The `oms` command's parser on args: exit status (0: accepted) and output."""
    from oms_client.cli import build_parser

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            build_parser().parse_args(args)
        except SystemExit as stop:
            return int(stop.code or 0), out.getvalue()
    return 0, out.getvalue()


def oms_problems(argv: list[str]) -> list[str]:
    status, output = oms_parse(argv[1:])
    if status != 0:
        return [f"`{shlex.join(argv)}` is refused: {output.strip().splitlines()[-1]}"]
    words, flags = split_words(argv[1:])
    _, help_text = oms_parse([*words, "--help"])
    return [f"`oms {' '.join(words)}`: its --help has no {flag}" for flag in flags if not mentions(help_text, flag)]


@functools.cache
def env_problems(text: str) -> list[str]:
    """OMS_* names must be settings of the configuration model (or the
    client's and the tests' own variables)."""
    names = sorted(set(re.findall(r"\bOMS_[A-Z][A-Z0-9_]*", text)))
    return [f"{name} is not a setting" for name in names if name not in KNOWN_VARIABLES]


def heading_anchors(text: str) -> set[str]:
    """GitHub's anchors: lower case, punctuation dropped, spaces to hyphens,
    repeats numbered."""
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", without_code_blocks(text), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in anchors:
            n += 1
            anchor = f"{slug}-{n}"
        anchors.add(anchor)
    return anchors


def link_problems(doc: Path, text: str) -> list[str]:
    problems = []
    for target in re.findall(r"\]\(([^)\s]+)\)", without_code_blocks(text)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        path = (doc.parent / path_part).resolve() if path_part else doc
        if not path.exists():
            if path not in GENERATED:
                problems.append(f"link {target!r}: no file {path_part!r}")
            continue
        if anchor and path.suffix == ".md" and anchor not in heading_anchors(path.read_text()):
            problems.append(f"link {target!r}: no heading #{anchor} in {path.name}")
    return problems


# -- the docs pass them ---------------------------------------------------------


def cases(kind: str) -> list:
    found = list(doc_commands(kind))
    return [pytest.param(argv, id=name) for name, argv in found]


def test_the_docs_exist() -> None:
    pages = {"architecture.md", "exactly-once.md", "operations.md", "benchmarks.md", "development.md"}
    assert {"README.md", *pages} <= {doc.name for doc in DOCS}


def test_the_docs_have_commands_of_each_kind() -> None:
    for kind in ("make", "python -m", "oms"):
        assert list(doc_commands(kind)), f"no `{kind}` command found: is the parsing broken?"


@pytest.mark.parametrize("argv", cases("make"))
def test_make_targets_exist(argv: list[str]) -> None:
    assert make_problems(argv) == []


@pytest.mark.parametrize("argv", cases("python -m"))
def test_python_modules_and_flags_exist(argv: list[str]) -> None:
    assert python_m_problems(argv) == []


@pytest.mark.parametrize("argv", cases("oms"))
def test_oms_commands_and_flags_exist(argv: list[str]) -> None:
    assert oms_problems(argv) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_environment_variables_exist(doc: Path) -> None:
    assert env_problems(doc.read_text()) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_links_resolve(doc: Path) -> None:
    assert link_problems(doc, doc.read_text()) == []


# Paths the docs name that are not in the repository on purpose: made by a
# run, or an example of a file a reader would add.
NOT_IN_THE_REPO = {"bench/out/", "validators/address.py"}
TOP_FOLDERS = {path.name for path in ROOT.iterdir() if path.is_dir() and not path.name.startswith(".")}


def path_problems(text: str) -> list[str]:
    """Every `folder/file` the docs name exists (a renamed module leaves no stale name behind)."""
    named = set(re.findall(r"`([A-Za-z_][\w.-]*/[\w./-]*)`", text))
    return sorted(
        f"no {path} in the repository"
        for path in named
        if path.split("/")[0] in TOP_FOLDERS and path not in NOT_IN_THE_REPO and not (ROOT / path).exists()
    )


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_paths_exist(doc: Path) -> None:
    assert path_problems(doc.read_text()) == []


def test_every_docs_page_is_linked_from_the_readme() -> None:
    targets = re.findall(r"\]\((docs/[^)\s]+)\)", README.read_text())
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in targets}
    assert {doc for doc in DOCS if doc != README} <= linked


def readme_problems(text: str) -> list[str]:
    lines = len(text.splitlines())
    return [f"the README has {lines} lines, more than {README_MAX_LINES}"] if lines > README_MAX_LINES else []


def test_the_readme_is_short() -> None:
    assert readme_problems(README.read_text()) == []


# -- and each check can fail ------------------------------------------------------

BROKEN = """\
# Broken

```sh
make no-such-target
python -m no_such_module_anywhere
python -m bench --no-such-flag
python -m localkafka no-such-subcommand
python -m pytest tests/no-such-folder
oms no-such-command
oms place --customer 42 --product JUMPERS --quantity 2 --price 12.5 --no-such-flag
oms place --customer 42 --product JUMPERS --quantity 2 --pri 12.5
```

Set `OMS_NO_SUCH_SETTING=1`, then read [on](no-such-page.md) and
[there](architecture.md#no-such-heading).
"""


def test_each_check_catches_a_broken_doc() -> None:
    found = commands(BROKEN)
    assert make_problems(found[0])
    assert python_m_problems(found[1])
    assert python_m_problems(found[2])
    assert python_m_problems(found[3])
    assert python_m_problems(found[4])
    assert oms_problems(found[5])
    assert oms_problems(found[6])
    assert oms_problems(found[7]), "an abbreviated flag (--pri for --price) must not pass"
    assert env_problems(BROKEN) == ["OMS_NO_SUCH_SETTING is not a setting"]
    assert len(link_problems(ROOT / "docs" / "broken.md", BROKEN)) == 2
    assert path_problems("See `gateway/no_such_module.py` and `streams/kafka.py`.") == [
        "no gateway/no_such_module.py in the repository"
    ]


def test_a_long_readme_is_caught() -> None:
    assert readme_problems("line\n" * (README_MAX_LINES + 1))
    assert readme_problems("line\n" * README_MAX_LINES) == []
