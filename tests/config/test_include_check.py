"""include_check and the include kinds (keepalived's lib/parser.c include_t): which include
problems fail `-t` and which are only reported."""
from __future__ import annotations

from kvrrp.config import load


def codes(tmp_path, text: str) -> list[tuple[str, str]]:
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    return [(d.severity, d.code) for d in load(str(path)).diagnostics if d.code.startswith("include")
            or d.code in ("duplicate", "invalid-value")]


def test_a_missing_include_is_a_warning_unless_checked(tmp_path):
    assert codes(tmp_path, "include nothere.conf\n") == [("warning", "include-missing")]
    assert codes(tmp_path, "global_defs {\n include_check\n}\ninclude nothere.conf\n") == [
        ("error", "include-missing")]
    assert codes(tmp_path, "global_defs {\n include_check match\n}\ninclude nothere.conf\n") == [
        ("error", "include-missing")]
    # match does not cover a wildcard that matches nothing; wildcard_match does
    assert codes(tmp_path, "global_defs {\n include_check match\n}\ninclude none*.conf\n") == [
        ("warning", "include-missing")]
    assert codes(tmp_path, "global_defs {\n include_check +wildcard_match\n}\ninclude none*.conf\n") == [
        ("error", "include-missing")]
    # the check only concerns includes after it
    assert codes(tmp_path, "include nothere.conf\nglobal_defs {\n include_check\n}\n") == [
        ("warning", "include-missing")]


def test_include_kinds_and_removing_checks(tmp_path):
    assert codes(tmp_path, "includem nothere.conf\n") == [("error", "include-missing")]
    assert codes(tmp_path, "includer nothere.conf\n") == [("warning", "include-missing")]
    assert codes(tmp_path, "global_defs {\n include_check -match\n}\nincludem nothere.conf\n") == [
        ("error", "include-missing")]          # the kind's own check stays
    (tmp_path / "a.conf").write_text("")
    assert codes(tmp_path, "include {a,b}.conf\n") == []
    assert codes(tmp_path, "includeb {a,b}.conf\n") == [("error", "include-missing")]
    (tmp_path / "sub").mkdir()
    assert codes(tmp_path, "include sub\n") == []
    assert codes(tmp_path, "includer sub\n") == [("error", "include-unreadable")]


def test_include_check_inside_an_included_file_ends_with_it(tmp_path):
    (tmp_path / "checks.conf").write_text("global_defs {\n include_check\n}\ninclude gone1.conf\n")
    assert codes(tmp_path, "include checks.conf\ninclude gone2.conf\n") == [
        ("error", "include-missing"), ("warning", "include-missing")]


def test_include_check_words_are_checked(tmp_path):
    assert codes(tmp_path, "global_defs {\n include_check read bogus\n}\n") == [("error", "duplicate")]
    assert codes(tmp_path, "global_defs {\n include_check +bogus\n}\n") == [("error", "invalid-value")]
