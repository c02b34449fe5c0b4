"""The editor packages (editors/): the TextMate grammar colours every token of every shipped
policy as the Lark grammar reads it, and the VS Code extension folder is complete.

The Lark side is the project's own grammar, parsed with the project's post-lexer and with every
token kept, so each token comes with its terminal (`WITHIN`, `NAME`, `NUMBER`, ...) and, for a
name, the rule it sits in: a declaration's name, a type, a soft word such as `contact`, or a
reference. The TextMate side is tests/textmate.py, a tokenizer that applies the grammar's rules
as VS Code does. Each Lark token must get the scope family its kind calls for.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from lark import Lark, Token, Tree

from mqldsl.language import ast
from mqldsl.language.continuation import PostLexer
from mqldsl.language.parser import grammar_text
from mqldsl.language.printer import format_policy
from tests.strategies import policies
from tests.textmate import Grammar, Scopes

ROOT = Path(__file__).resolve().parent.parent
TEXTMATE = ROOT / "editors" / "textmate" / "mqldsl.tmLanguage.json"
VSCODE = ROOT / "editors" / "vscode"
SHIPPED = sorted((ROOT / "policies").glob("**/*.mql"))
# Every form of the language in one checked policy (and the file it includes).
FORMS = sorted((ROOT / "tests" / "golden" / "editors").glob("*.mql"))


# ---------------------------------------------------------------- the Lark side


@dataclass(frozen=True)
class LarkToken:
    start: int
    end: int
    text: str
    kind: str  # the terminal, or for a name its role: NAME:decl, NAME:type, NAME:soft, NAME


# The rules whose first name declares something (fields, events, params, scores, stages,
# calendars); a route's second name declares its queue.
_DECLARING = {
    "field",
    "event_decl",
    "param_decl",
    "score_rules",
    "score_formula",
    "stage",
    "calendar",
}
# How many leading names of a rule are soft words: the grammar takes any name there and the
# builder requires one word (E140): `count(distinct contact with ...)`, `per contact with`, an
# example's `contact "ID" { ... }`.
_SOFT = {"contact_count": 2, "per_contact_rule": 1, "example_contact": 1}


def _name_role(rule: str, index: int) -> str:
    if (rule in _DECLARING and index == 0) or (rule == "route" and index == 1):
        return "NAME:decl"
    if rule == "simple_type":
        return "NAME:type"
    if index < _SOFT.get(rule, 0):
        return "NAME:soft"
    return "NAME"


class LarkTokens:
    """The tokens of a policy as the project's grammar reads them."""

    def __init__(self) -> None:
        self.postlex = PostLexer()
        self.ignored: list[Token] = []

        def keep(token: Token) -> Token:
            self.ignored.append(token)
            return token

        self.lark = Lark(
            grammar_text(),
            parser="lalr",
            lexer="contextual",
            postlex=self.postlex,
            keep_all_tokens=True,
            maybe_placeholders=False,
            # Comments are ignored (COMMENT), or part of a newline (_NL, _CONT) that the
            # post-lexer may drop: the lexer's callbacks see them all.
            lexer_callbacks={"COMMENT": keep, "_NL": keep, "_CONT": keep},
        )

    def __call__(self, text: str) -> list[LarkToken]:
        self.postlex.reset()
        self.ignored = []
        tree = self.lark.parse(text)
        found: list[LarkToken] = []
        for rule, token, index in _walk(tree):
            if token.type in ("_NL", "_CONT"):
                continue
            kind = _name_role(rule, index) if token.type == "NAME" else token.type
            assert token.start_pos is not None and token.end_pos is not None
            found.append(LarkToken(token.start_pos, token.end_pos, str(token), kind))
        for token in self.ignored:
            assert token.start_pos is not None
            for comment in re.finditer(r"#[^\n]*", str(token)):
                start = token.start_pos + comment.start()
                found.append(
                    LarkToken(start, start + len(comment.group()), comment.group(), "COMMENT")
                )
        return sorted(set(found), key=lambda t: t.start)


def _walk(tree: Tree[Token]) -> Iterator[tuple[str, Token, int]]:
    """Every token with the rule it sits in and its index among that rule's names."""
    names = 0
    for child in tree.children:
        if isinstance(child, Tree):
            yield from _walk(child)
        else:
            yield str(tree.data), child, names
            names += child.type == "NAME"


@cache
def lark_tokens() -> LarkTokens:
    return LarkTokens()


@cache
def tokens_of(text: str) -> tuple[LarkToken, ...]:
    return tuple(lark_tokens()(text))


# ---------------------------------------------------------------- the TextMate side

_OPERATOR = re.compile(r"keyword\.operator\.(comparison|arithmetic|assignment)\b")
_FAMILIES = [
    ("constant.numeric.", "number"),
    ("constant.other.date.", "date"),
    ("constant.other.datetime.", "date"),
    ("constant.other.time.", "date"),
    ("constant.language.", "literal"),
    ("keyword.", "keyword"),
    ("storage.", "keyword"),
    ("entity.name.", "declaration"),
    ("variable.", "identifier"),
    ("support.type.", "type"),
    ("support.function.", "function"),
    ("punctuation.", "punctuation"),
]


def family(scopes: Scopes) -> str:
    """What a character's scopes make it, as a theme colours it: comments and strings colour
    all they hold; otherwise the innermost scope that is not a `meta.` one decides."""
    for container in ("comment", "string"):
        if any(scope.startswith(container + ".") for scope in scopes):
            return container
    for scope in reversed(scopes[1:]):
        if scope.startswith("meta."):
            continue
        if _OPERATOR.match(scope):
            return "operator"
        for prefix, name in _FAMILIES:
            if scope.startswith(prefix):
                return name
        return f"other ({scope})"
    return "plain"


# What each kind of Lark token must be coloured as.
_BY_TERMINAL = {
    "COMMENT": "comment",
    "STRING": "string",
    "LONG_STRING": "string",
    "NUMBER": "number",
    "POINTS": "number",
    "DATE": "date",
    "INSTANT": "date",
    "CLOCK": "date",
    "UNIT": "keyword",
    "COMPARE": "operator",
    "AGGREGATE": "function",
    "NAME:decl": "declaration",
    "NAME:type": "type",
    "NAME:soft": "keyword",
    "NAME": "identifier",
    "TRUE": "literal",
    "FALSE": "literal",
    "NONE": "literal",
    "PLUS": "operator",
    "MINUS": "operator",
    "STAR": "operator",
    "SLASH": "operator",
    "EQUAL": "operator",
    "PERCENT": "keyword",
    "LOCKED": "keyword",
    "EVER": "keyword",
    "ANY_EVENT": "keyword",
}


@cache
def _terminal_patterns() -> Mapping[str, str]:
    """Each anonymous terminal of the Lark grammar (`"within"`, `"{"`) and how it is written."""
    return {
        t.name: t.pattern.value
        for t in lark_tokens().lark.terminals
        if type(t.pattern).__name__ == "PatternStr"
    }


def expected_family(kind: str) -> str:
    if kind in _BY_TERMINAL:
        return _BY_TERMINAL[kind]
    written = _terminal_patterns().get(kind)
    if written is None:  # a new named terminal: say above how it is coloured
        return f"unclassified terminal {kind}"
    return "keyword" if written.isalpha() else "punctuation"


def mismatches(grammar: Grammar, text: str, limit: int = 20) -> list[str]:
    """Each Lark token whose characters the TextMate grammar colours otherwise than its kind
    calls for (at most ``limit`` of them)."""
    scopes = grammar.tokenize(text)
    found = []
    for token in tokens_of(text):
        want = expected_family(token.kind)
        got = {family(scopes[i]) for i in range(token.start, token.end) if not text[i].isspace()}
        if got != {want}:
            line = text.count("\n", 0, token.start) + 1
            column = token.start - (text.rfind("\n", 0, token.start) + 1) + 1
            inner = scopes[token.start][-1]
            found.append(
                f"{line}:{column} {token.text!r} ({token.kind}) should be {want}, "
                f"is {sorted(got)} ({inner})"
            )
            if len(found) >= limit:
                break
    return found


@cache
def grammar_json() -> Mapping[str, Any]:
    data: Mapping[str, Any] = json.loads(TEXTMATE.read_text(encoding="utf-8"))
    return data


@cache
def grammar() -> Grammar:
    return Grammar(grammar_json())


# ---------------------------------------------------------------- the grammar against policies


@pytest.mark.parametrize("path", SHIPPED + FORMS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_token_is_coloured_as_the_lark_grammar_reads_it(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert mismatches(grammar(), text) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies())
def test_generated_policies_are_coloured_as_the_lark_grammar_reads_them(
    policy: ast.Policy,
) -> None:
    """Any policy the printer writes (random names, strings with escapes and any characters,
    every kind of item), not only the shipped ones."""
    assert mismatches(grammar(), format_policy(policy)) == []


def test_the_shipped_policies_are_all_checked() -> None:
    names = {p.relative_to(ROOT / "policies").as_posix() for p in SHIPPED}
    assert {"acme.mql", "abm.mql", "saas_trial.mql", "common/acme_schema.mql"} <= names


def test_the_forms_policy_holds_every_keyword_and_kind_of_token() -> None:
    """A keyword added to the Lark grammar fails here until the forms policy uses it (and so the
    check above covers the TextMate grammar for it)."""
    kinds: set[str] = set()
    words: set[str] = set()
    for path in FORMS:
        for token in tokens_of(path.read_text(encoding="utf-8")):
            kinds.add(token.kind)
            words.add(token.text)
    terminals = {t.name for t in lark_tokens().lark.terminals if not t.name.startswith("_")}
    missing_terminals = terminals - kinds - {"COMMENT"}
    assert missing_terminals == set()
    assert {"NAME:decl", "NAME:type", "NAME:soft", "NAME", "COMMENT"} <= kinds
    assert {"sum", "max", "min", "avg", "contact", "distinct"} <= words
    assert {"minutes", "hour", "days", "day", "business"} <= words


# ---------------------------------------------------------------- the check can fail


def _keyword_spellings() -> list[str]:
    """Every word the Lark grammar has as a keyword, and the soft words and functions."""
    words = {w for w in _terminal_patterns().values() if w.isalpha()}
    return sorted(words | {"locked", "ever", "event", "contact", "distinct", "sum", "max", "min"})


def without_word(data: Mapping[str, Any], word: str) -> tuple[dict[str, Any], int]:
    """A copy of the grammar in which no regex matches ``word`` any more (each spelled-out
    occurrence of it can never match), and how many occurrences were removed."""
    pattern = re.compile(rf"(?<![A-Za-z0-9_])(?<!\\){word}(?![A-Za-z0-9_])|(?<=\\b){word}\b")
    removed = 0

    def strip(node: Any) -> Any:
        nonlocal removed
        if isinstance(node, dict):
            result = {}
            for key, value in node.items():
                if key in ("match", "begin", "end") and isinstance(value, str):
                    value, count = pattern.subn(f"(?!){word}", value)
                    removed += count
                result[key] = strip(value)
            return result
        if isinstance(node, list):
            return [strip(item) for item in node]
        return node

    return strip(copy.deepcopy(dict(data))), removed


@pytest.mark.parametrize("word", _keyword_spellings())
def test_a_keyword_missing_from_the_textmate_grammar_fails_the_check(word: str) -> None:
    mutated, removed = without_word(grammar_json(), word)
    assert removed > 0, f"the TextMate grammar never spells out `{word}`"
    broken = Grammar(mutated)
    texts = [p.read_text(encoding="utf-8") for p in FORMS + SHIPPED]
    uses = [t for t in texts if re.search(rf"\b{word}\b", t)]
    assert uses, f"no policy uses `{word}`"
    assert any(mismatches(broken, text, limit=1) for text in uses)


def test_a_soft_word_coloured_as_a_keyword_everywhere_fails_the_check() -> None:
    """The check also catches the opposite mistake: `contact` is a keyword only in
    `per contact with`, `count(distinct contact with ...)` and an example's `contact "ID"`;
    the forms policy also has an event named `contact`."""
    data = copy.deepcopy(dict(grammar_json()))
    expression = data["repository"]["expression"]["patterns"]
    expression.insert(0, {"match": r"\b(contact|distinct)\b", "name": "keyword.other.mql"})
    text = (ROOT / "tests" / "golden" / "editors" / "all_forms.mql").read_text(encoding="utf-8")
    assert mismatches(grammar(), text) == []
    found = mismatches(Grammar(data), text)
    assert any("'contact' (NAME) should be identifier, is ['keyword']" in line for line in found)


def test_the_tokenizer_applies_begin_end_and_captures_as_textmate_does() -> None:
    tiny = Grammar(
        {
            "scopeName": "source.t",
            "patterns": [
                {"begin": r"\(", "end": r"\)", "name": "meta.p", "patterns": [{"include": "#w"}]},
                {"match": r"(a)(b)?", "name": "x", "captures": {"2": {"name": "y"}}},
            ],
            "repository": {"w": {"match": r"[a-z]+", "name": "w"}},
        }
    )
    scopes = tiny.tokenize("ab (ab\nc) a")
    assert scopes[0] == ("source.t", "x")
    assert scopes[1] == ("source.t", "x", "y")
    assert scopes[4] == ("source.t", "meta.p", "w")  # inside the parentheses, `#w` wins
    assert scopes[7] == ("source.t", "meta.p", "w")  # the begin rule spans lines
    assert scopes[8] == ("source.t", "meta.p")
    assert scopes[10] == ("source.t", "x")


# ---------------------------------------------------------------- the grammar file itself


def _regexes(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("match", "begin", "end") and isinstance(value, str):
                yield value
            else:
                yield from _regexes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _regexes(item)


def test_the_grammar_keeps_to_regex_features_python_and_oniguruma_share() -> None:
    unsupported = re.compile(r"\\[GKhHAzZ]|\(\?<[A-Za-z]|\(\?P|\(\?[imx]|[*+?}]\+|\\p\{")
    for regex in _regexes(grammar_json()):
        assert not unsupported.search(regex), regex
        re.compile(regex)


def test_the_grammar_is_scoped_for_mql_files() -> None:
    data = grammar_json()
    assert data["scopeName"] == "source.mql"
    assert data["fileTypes"] == ["mql"]
    includes = json.dumps(data)
    for name in data["repository"]:
        assert f'"#{name}"' in includes, f"repository rule {name} is never used"


# ---------------------------------------------------------------- the VS Code extension


def _package() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    return data


def test_the_extension_contributes_the_language_and_its_grammar() -> None:
    package = _package()
    (language,) = package["contributes"]["languages"]
    assert language["id"] == "mqldsl"
    assert language["extensions"] == [".mql"]
    configuration = json.loads((VSCODE / language["configuration"]).read_text(encoding="utf-8"))
    assert configuration["comments"] == {"lineComment": "#"}
    assert ["{", "}"] in configuration["brackets"]
    (contributed,) = package["contributes"]["grammars"]
    assert contributed["language"] == "mqldsl"
    assert contributed["scopeName"] == grammar_json()["scopeName"]
    # The grammar is copied into the folder when the extension is installed or packaged.
    target = (VSCODE / contributed["path"]).resolve()
    assert target.parent == (VSCODE / "syntaxes").resolve()
    assert (ROOT / "editors" / "textmate" / target.name) == TEXTMATE
    assert package["main"] == "./extension.js"
    assert (VSCODE / "extension.js").is_file()
    assert set(package["scripts"]) >= {"vscode:prepublish", "postinstall"}
    assert "vscode-languageclient" in package["dependencies"]


def test_the_extension_has_a_setting_for_the_server_command() -> None:
    properties = _package()["contributes"]["configuration"]["properties"]
    assert properties["mqldsl.command"]["default"] == "mqldsl"
    source = (VSCODE / "extension.js").read_text(encoding="utf-8")
    assert "getConfiguration('mqldsl')" in source
    assert "'lsp'" in source
    assert "vscode-languageclient/node" in source


def test_no_node_modules_or_copied_grammar_is_committed() -> None:
    ignored = (VSCODE / ".gitignore").read_text(encoding="utf-8").split()
    assert {"node_modules/", "syntaxes/", "*.vsix"} <= set(ignored)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_extension_scripts_are_valid_javascript(tmp_path: Path) -> None:
    for script in ("extension.js", "copy-grammar.js"):
        subprocess.run(["node", "--check", str(VSCODE / script)], check=True)
    # The copy script puts the grammar where package.json says it is.
    folder = tmp_path / "editors"
    shutil.copytree(VSCODE, folder / "vscode", ignore=shutil.ignore_patterns("node_modules"))
    shutil.copytree(TEXTMATE.parent, folder / "textmate")
    subprocess.run(["node", "copy-grammar.js"], cwd=folder / "vscode", check=True)
    (contributed,) = _package()["contributes"]["grammars"]
    copied = folder / "vscode" / contributed["path"]
    assert copied.read_bytes() == TEXTMATE.read_bytes()


# Runs extension.js in node with stand-ins for the `vscode` and `vscode-languageclient` modules
# (neither is installed here): prints the command each activation starts the server with.
_STUBBED_ACTIVATION = r"""
const Module = require('module');
const setting = JSON.parse(process.argv[2]);
const started = [];
const stubs = {
  vscode: {
    workspace: {
      getConfiguration: (section) => ({
        get: (key, fallback) => (section === 'mqldsl' && key === 'command' && setting !== null ? setting : fallback),
      }),
      createFileSystemWatcher: (glob) => ({ glob }),
      onDidChangeConfiguration: () => ({ dispose() {} }),
    },
    commands: { registerCommand: (name) => ({ name, dispose() {} }) },
    window: { showErrorMessage: (message) => started.push({ error: message }) },
  },
  'vscode-languageclient/node': {
    TransportKind: { stdio: 0 },
    LanguageClient: class {
      constructor(id, name, server, client) {
        started.push({ id, command: server.run.command, args: server.run.args,
                       transport: server.run.transport, selector: client.documentSelector });
      }
      start() { return Promise.resolve(); }
      isRunning() { return true; }
      stop() { return Promise.resolve(); }
    },
  },
};
const load = Module._load;
Module._load = function (request, ...rest) {
  return request in stubs ? stubs[request] : load.call(this, request, ...rest);
};
const extension = require(process.argv[1]);
extension.activate({ subscriptions: [] }).then(() => console.log(JSON.stringify(started)));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize(
    ("setting", "command"),
    [
        (None, ["mqldsl", "lsp"]),
        ("/opt/venv/bin/mqldsl", ["/opt/venv/bin/mqldsl", "lsp"]),
        (["python", "-m", "mqldsl"], ["python", "-m", "mqldsl", "lsp"]),
        ("", ["mqldsl", "lsp"]),
    ],
)
def test_the_extension_starts_mqldsl_lsp_over_stdio(setting: Any, command: list[str]) -> None:
    run = subprocess.run(
        ["node", "-e", _STUBBED_ACTIVATION, str(VSCODE / "extension.js"), json.dumps(setting)],
        capture_output=True,
        text=True,
        check=True,
    )
    (client,) = json.loads(run.stdout)
    assert [client["command"], *client["args"]] == command
    assert client["id"] == "mqldsl"
    assert client["transport"] == 0  # stdio
    assert {"scheme": "file", "language": "mqldsl"} in client["selector"]


def test_the_extension_readme_links_nothing_outside_the_folder() -> None:
    """`vsce package` refuses a README whose relative links leave the extension (the
    repository's URL is not known to it)."""
    readme = (VSCODE / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)]+)\)", readme)
    assert all(re.match(r"https?://", link) or not link.startswith("..") for link in links)
