"""The loader parses one top-level block at a time (memory: a 10,000-instance file's tokens
never all live at once). Streaming must give exactly what the one-shot tree + parse gives."""
from __future__ import annotations

import glob
import os

import pytest

from kvrrp.config.diagnostics import Diagnostics
from kvrrp.config.lexer import Lexer, _lines
from kvrrp.config.loader import load
from kvrrp.config.parser import Parser
from kvrrp.config.tree import TreeBuilder, build_tree
from kvrrp.config.validate import validate

from .helpers import CONFIGS, SEEDS, parse

FILES = sorted(glob.glob(os.path.join(SEEDS, "*.conf")) + glob.glob(os.path.join(CONFIGS, "*.conf")))


def one_shot(path: str):
    """The loader as it was: every token line, then the whole tree, then the parse."""
    diags = Diagnostics()
    lexer = Lexer(diags, config_id="testhost")
    lines = lexer.read_file(path)
    parser = Parser(diags)
    cfg = parser.parse(build_tree(lines, diags))
    cfg = validate(cfg, diags, parser.where, parser.kwloc)
    return cfg, diags.items


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_streaming_load_equals_one_shot_parse(path):
    cfg, diags = one_shot(path)
    res = load(path, config_id="testhost")
    assert res.config == cfg
    assert sorted(map(repr, res.diagnostics)) == sorted(map(repr, diags))


def test_top_level_nodes_are_handed_over_in_order_and_not_kept():
    seen = []
    b = TreeBuilder(Diagnostics(), on_top=lambda node: seen.append((node.keyword, len(b.root))))
    lines = Lexer(Diagnostics()).read_text(
        "global_defs {\n router_id r\n}\nvrrp_instance A\n{\n state MASTER\n}\nbare_word\n"
        "vrrp_instance B {\n priority 5\n}\n", "t.conf")
    for toks in lines:
        b.line(toks)
        assert len(b.root) <= 1
    assert b.finish() == []
    # B's block closing hands it over at once; bare_word waits for the next top-level line
    assert [k for k, _ in seen] == ["global_defs", "vrrp_instance", "bare_word", "vrrp_instance"]


def test_unterminated_block_is_still_parsed_and_reported():
    res = parse("vrrp_instance A {\n interface eth0\n virtual_router_id 7\n")
    assert [i.name for i in res.config.instances] == ["A"]
    assert "missing-eob" in [d.code for d in res.diagnostics]


def test_brace_after_a_closed_top_level_block_is_reported_like_before():
    text = "vrrp_instance A {\n interface eth0\n virtual_router_id 7\n}\n{\n priority 5\n}\n"
    res = parse(text)
    assert "unexpected-bob" in [d.code for d in res.diagnostics]
    assert res.config.instances[0].priority == 100


@pytest.mark.parametrize("text", ["", "a", "a\n", "\n\nb\n\n", "x\r\ny\r\n", "no newline at end"])
def test_lines_splits_like_str_split(text):
    assert list(_lines(text)) == text.split("\n")


def test_keyword_places_kept_compact_give_each_keywords_location(tmp_path):
    """Parser.kwlocs keeps (keyword, file, line, col) per model object, not its Tokens."""
    conf = tmp_path / "k.conf"
    conf.write_text("vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n"
                    "    priority 300\n    virtual_ipaddress {\n        198.18.0.10/24\n    }\n}\n")
    diags = Diagnostics()
    lexer = Lexer(diags)
    parser = Parser(diags)
    cfg = parser.parse(build_tree(lexer.read_file(str(conf)), diags))
    inst = cfg.instances[0]
    packed = parser.kwlocs[id(inst)]
    assert isinstance(packed, tuple) and not any(type(x).__name__ == "Token" for x in packed)
    loc = parser.kwloc(inst, "virtual_router_id")
    assert (loc.file, loc.line) == (str(conf), 3)
    assert parser.kwloc(inst, "advert_int") is None
    assert parser.where(inst, "advert_int") == inst.loc          # not written: the block's place
    cfg = validate(cfg, diags, parser.where, parser.kwloc)
    prio = [d for d in diags.items if "priority" in d.message]
    assert prio and prio[0].loc.line == 4                          # the out-of-range value's line
