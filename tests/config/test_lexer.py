"""Lexical layer: comments, quotes, braces, includes, definitions, conditionals, generators,
and token locations."""
from __future__ import annotations

import os

from kvrrp.config import load
from kvrrp.config.diagnostics import Diagnostics
from kvrrp.config.lexer import Lexer, decomment

from .helpers import codes, parse


def lex(text: str, config_id: str = "testhost", **kw) -> list[list[str]]:
    diags = Diagnostics()
    lines = Lexer(diags, config_id=config_id, **kw).read_text(text, "t.conf")
    return [[t.text for t in line] for line in lines]


def test_comments_anywhere_and_after_values():
    assert lex("a 1 # c\n! whole line\nb 2!x\n  # indented\nc '#' \"#not\" # real") == [
        ["a", "1"], ["b", "2"], ["c", "'"], ]  # ' is not a quote char for keepalived: "'" then # starts comment


def test_hash_inside_double_quotes_is_kept():
    assert lex('script "/bin/echo #1 !2"  # comment') == [["script", "/bin/echo #1 !2"]]


def test_escaped_hash_outside_quotes():
    assert lex(r"label a\#b") == [["label", "a#b"]]


def test_braces_with_and_without_spaces_split_lines():
    assert lex("vrrp_instance X{state MASTER}") == [["vrrp_instance", "X"], ["{"], ["state", "MASTER"], ["}"]]
    assert lex("a {\n}\n") == [["a"], ["{"], ["}"]]


def test_quoted_string_is_one_token_with_escapes_kept_for_the_script_splitter():
    res = parse('vrrp_script s {\n script "/bin/echo \\"a b\\" c"\n}\n')
    s = res.config.vrrp_scripts[0].script
    assert s.argv == ("/bin/echo", "a b", "c")


def test_script_argv_escapes_and_quotes():
    from kvrrp.config.argv import split_command as _split_command
    assert _split_command("/bin/x 'a b' \"c d\" e\\ f \\x41\\101\\n") == ("/bin/x", "a b", "c d", "e f", "AA\n")
    assert _split_command("  ") == ()
    assert _split_command("x ''") == ("x", "")


def test_token_locations_file_line_column():
    diags = Diagnostics()
    lines = Lexer(diags, config_id="h").read_text("\n\n   priority  100 # x\n", "f.conf")
    (prio, val), = lines
    assert (prio.file, prio.line, prio.col) == ("f.conf", 3, 4)
    assert (val.line, val.col) == (3, 14)


def test_decomment_continuation_flag():
    assert decomment("$X=a \\") == ("$X=a", True)
    assert decomment("  x  ") == ("x", False)


def test_definitions_and_substitution():
    assert lex("$IF=eth0\ninterface $IF\ninterface ${IF}x\nkeep $UNDEFINED") == [
        ["interface", "eth0"], ["interface", "eth0x"], ["keep", "$UNDEFINED"]]


def test_multiline_definition_expands_to_lines():
    text = "$BLK=a 1 \\\n  b 2 \\\n  c 3\n$BLK\n"
    assert lex(text) == [["a", "1"], ["b", "2"], ["c", "3"]]


def test_builtins(tmp_path):
    f = tmp_path / "k.conf"
    f.write_text("d ${_PWD}\ni ${_INSTANCE}\ne ${_ENV KVRRP_T}\nr ${_RANDOM 5 5}\nh x${_BANG}\n")
    diags = Diagnostics()
    lines = Lexer(diags, config_id="node7", env={"KVRRP_T": "val"}).read_file(str(f))
    got = [[t.text for t in line] for line in lines]
    assert got == [["d", str(tmp_path)], ["i", "node7"], ["e", "val"], ["r", "5"], ["h", "x"]]


def test_hash_builtin_starts_a_comment_like_keepalived():
    assert lex("a ${_HASH} b") == [["a"]]


def test_conditional_lines_by_config_id():
    text = "@web1 a 1\n@web2 b 2\n@^web1 c 3\n@^web2 d 4\n@web1\n"
    assert lex(text, config_id="web1") == [["a", "1"], ["d", "4"]]
    assert lex(text, config_id="web2") == [["b", "2"], ["c", "3"]]


def test_seq_forms():
    assert lex("~SEQ(i, 3) v $i") == [["v", "1"], ["v", "2"], ["v", "3"]]
    assert lex("~SEQ(i, 5, 7) v $i") == [["v", "5"], ["v", "6"], ["v", "7"]]
    assert lex("~SEQ(i, 10, -5, 0) v $i") == [["v", "10"], ["v", "5"], ["v", "0"]]
    assert lex("~SEQx(i, 9, 11) v ${i}") == [["v", "9"], ["v", "a"], ["v", "b"]]


def test_nested_seq():
    assert lex("~SEQ(a, 1, 2) ~SEQ(b, 1, 2) v $a $b") == [["v", "1", "1"], ["v", "1", "2"],
                                                         ["v", "2", "1"], ["v", "2", "2"]]


def test_lst_single_and_tuples():
    assert lex("~LST(x, p, q) v $x") == [["v", "p"], ["v", "q"]]
    assert lex("~LST({a, b}, {1, 2}, {3}) v ${a}-${b}.") == [["v", "1-2."], ["v", "3-."]]
    # an unbraced name must end at a space, tab, ',' or ')' (keepalived's rule)
    assert lex("~LST(a, 1) v $a-x") == [["v", "$a-x"]]


def test_bad_generators_are_errors_not_crashes():
    for text in ("~SEQ(i, 1, 0, 5) x", "~SEQ(i) x", "~SEQ i, 1 x", "~SEQx(i, -3) x", "~FOO(x) y",
                 "~LST(a) x", "~SEQ(i, zz) x"):
        res = parse(text)
        assert "bad-generator" in codes(res), text


def test_recursive_definition_is_reported():
    res = parse("$A=$A $A\nx $A\n")
    assert "recursion" in codes(res)


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


VI = "vrrp_instance {n} {{\n interface eth0\n virtual_router_id {v}\n virtual_ipaddress {{\n 198.18.0.{v}\n }}\n}}\n"


def test_include_glob_relative_to_including_file_and_nested(tmp_path, monkeypatch):
    _write(tmp_path, "conf/main.conf", "include sub/*.conf\n")
    _write(tmp_path, "conf/sub/a.conf", VI.format(n="A", v=1))
    _write(tmp_path, "conf/sub/b.conf", "include ../deeper/c.inc\n")
    _write(tmp_path, "conf/deeper/c.inc", VI.format(n="C", v=3))
    monkeypatch.chdir("/")
    res = load(str(tmp_path / "conf/main.conf"), config_id="h")
    assert [i.name for i in res.config.instances] == ["A", "C"]
    c_loc = res.config.instances[1].loc
    assert c_loc.file.endswith("deeper/c.inc") and c_loc.line == 1


def test_include_brace_expansion(tmp_path):
    _write(tmp_path, "m.conf", "include {x,y}.inc\n")
    _write(tmp_path, "x.inc", VI.format(n="X", v=1))
    _write(tmp_path, "y.inc", VI.format(n="Y", v=2))
    assert [i.name for i in load(str(tmp_path / "m.conf")).config.instances] == ["X", "Y"]


def test_include_inside_block(tmp_path):
    _write(tmp_path, "m.conf", "vrrp_instance V {\n interface eth0\n virtual_router_id 5\n include vips.inc\n}\n")
    _write(tmp_path, "vips.inc", "virtual_ipaddress {\n 198.18.0.5\n}\n")
    (vi,) = load(str(tmp_path / "m.conf")).config.instances
    assert vi.virtual_ipaddress[0].address == "198.18.0.5"


def test_include_loop_is_an_error_not_a_hang(tmp_path):
    _write(tmp_path, "a.conf", "include b.conf\n")
    _write(tmp_path, "b.conf", "include a.conf\n")
    res = load(str(tmp_path / "a.conf"))
    (d,) = [d for d in res.diagnostics if d.code == "include-loop"]
    assert d.loc.file.endswith("b.conf") and d.loc.line == 1
    assert "a.conf -> " in d.message


def test_self_include_is_a_loop(tmp_path):
    _write(tmp_path, "a.conf", "include a.conf\n")
    assert "include-loop" in codes(load(str(tmp_path / "a.conf")))


def test_missing_include_is_a_warning(tmp_path):
    _write(tmp_path, "a.conf", "include nothere*.conf\n")
    res = load(str(tmp_path / "a.conf"))
    assert [(d.code, d.severity) for d in res.diagnostics] == [("include-missing", "warning")]


def test_missing_main_file_is_fatal(tmp_path):
    res = load(str(tmp_path / "absent.conf"))
    assert res.diagnostics[0].severity == "fatal" and res.diagnostics[0].code == "file-not-found"


def test_unterminated_block_and_extra_brace():
    res = parse("vrrp_instance V {\n interface eth0\n")
    (d,) = [d for d in res.diagnostics if d.code == "missing-eob"]
    assert (d.loc.line, d.loc.col) == (1, 1)
    res = parse("}\n")
    assert [(d.code, d.loc.line) for d in res.diagnostics] == [("unexpected-eob", 1)]


def test_unmatched_quote_drops_rest_of_line():
    res = parse('global_defs {\n router_id "abc\n}\n')
    assert "unmatched-quote" in codes(res)
    assert "missing-parameter" in codes(res)


def test_crlf_line_endings():
    res = parse("global_defs {\r\n  router_id R1\r\n}\r\n")
    assert res.config.global_defs.router_id == "R1" and not res.diagnostics


def test_seq_generates_instances_via_multiline_definition():
    text = ("$I=vrrp_instance V$n { \\\n interface eth0 \\\n virtual_router_id $n \\\n"
            " virtual_ipaddress { \\\n 198.18.1.$n \\\n } \\\n}\n~SEQ(n, 1, 20) $I\n")
    res = parse(text)
    assert [i.vrid for i in res.config.instances] == list(range(1, 21))
    assert res.config.instances[19].virtual_ipaddress[0].address == "198.18.1.20"
    assert not res.errors


def test_lexer_edge_corpus_file():
    from .helpers import CONFIGS
    res = load(os.path.join(CONFIGS, "ok_lexer_edges.conf"), config_id="h")
    a, b = res.config.instances
    assert (a.priority, a.virtual_ipaddress[0].address, a.notify_master.command) == (
        77, "198.18.0.71", "/bin/true #not a comment")
    assert (b.name, b.vrid) == ("VI_E2", 72)


def test_trailing_backslash_outside_a_definition_stays_glued_to_the_last_word():
    assert lex("priority 120 \\") == [["priority", "120\\"]]
    res = parse("vrrp_instance V {\n interface eth0\n virtual_router_id 1 \\\n virtual_ipaddress {\n 198.18.0.1\n }\n}\n")
    assert "invalid-number" in codes(res)
