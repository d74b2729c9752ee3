"""The Lua scripts: each documents its KEYS and ARGV, and touches only the keys it is given."""

import pathlib
import re

import pytest

import gjobs

LUA_DIR = pathlib.Path(gjobs.__file__).parent / "lua"
SCRIPTS = sorted(LUA_DIR.glob("*.lua"))
#: Commands whose first argument is not a key (or that take none).
NOT_KEYED = {"PUBLISH", "TIME"}
#: Commands that read the keyspace instead of named keys.
KEYSPACE_COMMANDS = {"KEYS", "SCAN", "RANDOMKEY", "FLUSHDB", "FLUSHALL", "DBSIZE"}

CALL = re.compile(r"redis\.p?call\(\s*'([A-Za-z]+)'\s*(?:,\s*([^,)]+))?")


def header_and_body(path):
    lines = path.read_text("utf-8").splitlines()
    split = next(i for i, line in enumerate(lines) if line.strip() and not line.startswith("--"))
    return "\n".join(lines[:split]), "\n".join(line.split("--", 1)[0] for line in lines[split:])


def test_there_are_scripts_to_check():
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_every_script_opens_with_a_header_saying_what_it_does(path):
    header, _ = header_and_body(path)
    assert re.match(rf"-- {path.stem}: \S", header), f"{path.name} must open with '-- {path.stem}: <what it does>'"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_every_key_a_script_uses_is_documented_in_its_header(path):
    header, body = header_and_body(path)
    used = set(re.findall(r"KEYS\[(\d+)\]", body))
    documented = set(re.findall(r"^-- KEYS\[(\d+)\]\s+\S", header, re.M))
    assert used, f"{path.name} uses no KEYS"
    assert used <= documented, f"{path.name}: KEYS {sorted(used - documented)} are not documented"
    assert documented == {str(i) for i in range(1, len(documented) + 1)}, f"{path.name}: KEYS numbered 1..n"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_every_script_documents_its_argv(path):
    header, body = header_and_body(path)
    if "ARGV" in body:
        assert re.search(r"^-- ARGV(\[\d+\])?\s+\S", header, re.M), f"{path.name} does not document ARGV"
    for index in set(re.findall(r"ARGV\[(\d+)\]", body)):
        # A script taking a list documents "ARGV  id1, id2, ..." instead of each index.
        assert f"ARGV[{index}]" in header or re.search(r"^-- ARGV\s", header, re.M), (
            f"{path.name}: ARGV[{index}] is not documented"
        )


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_every_script_says_what_it_returns(path):
    header, _ = header_and_body(path)
    assert "Returns" in header, f"{path.name} does not say what it returns"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_no_script_reads_the_keyspace(path):
    _, body = header_and_body(path)
    commands = {command.upper() for command, _ in CALL.findall(body)}
    assert not commands & KEYSPACE_COMMANDS, f"{path.name} calls {sorted(commands & KEYSPACE_COMMANDS)}"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_every_key_a_script_touches_is_passed_in_keys(path):
    _, body = header_and_body(path)
    calls = CALL.findall(body)
    assert calls, f"{path.name} calls no command"
    for command, first in calls:
        if command.upper() in NOT_KEYED:
            continue
        assert re.fullmatch(r"KEYS\[\d+\]", first.strip()), (
            f"{path.name}: {command} on {first.strip()!r}: every key must come from KEYS"
        )


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_no_script_builds_names_by_concatenation(path):
    _, body = header_and_body(path)
    assert ".." not in body, f"{path.name} concatenates strings: key names must come in KEYS"


def test_every_script_is_loaded_by_the_package():
    source = "\n".join(p.read_text("utf-8") for p in pathlib.Path(gjobs.__file__).parent.glob("*.py"))
    registered = set(re.findall(r"scripts\.register\(\s*\w+\s*,\s*\"(\w+)\"", source))
    assert {path.stem for path in SCRIPTS} == registered
