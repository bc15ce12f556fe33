"""The corpus of bad inputs (and a few valid controls), each a broken copy of the demo shop and a command line.

In ``argv``: ``{exp}`` is the copy's experiment.toml, ``{site}`` its folder, ``{db}`` the case's database path.
``source`` is what the one error line must name first (a path template, or the command for an option);
``expect`` are fragments it must also hold (the field, the problem). ``db`` prepares a database file first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

Edit = Callable[[str], str]


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    expect: tuple[str, ...]
    source: str = "{exp}"
    edit: Edit | None = None
    files: dict[str, str | bytes] = field(default_factory=dict)  # relative to the shop copy
    db: str | None = None  # foreign | newer | older | uiab | text | empty | folder
    env: dict[str, str] = field(default_factory=dict)
    cwd_files: dict[str, str | bytes] = field(default_factory=dict)
    code: int = 2
    encoding: str = "utf-8"  # how the edited experiment.toml is saved


def sub(old: str, new: str) -> Edit:
    def edit(text: str) -> str:
        assert text.count(old) == 1, old  # the case would test nothing if the shop changed under it
        return text.replace(old, new)
    return edit


def both(*edits: Edit) -> Edit:
    def edit(text: str) -> str:
        for one in edits:
            text = one(text)
        return text
    return edit


def top(line: str) -> Edit:
    """A key before the first table (where TOML puts top-level keys)."""
    return lambda text: line + "\n" + text


def end(block: str) -> Edit:
    return lambda text: text + "\n" + block + "\n"


def drop(pattern: str) -> Edit:
    def edit(text: str) -> str:
        out, n = re.subn(pattern, "", text, flags=re.M)
        assert n, pattern
        return out
    return edit


NO_FUNNEL = drop(r"^\[\[funnel\]\]\npage = .*\nnext = .*\n")
NO_VARIANTS = drop(r'^\[\[variants\]\]\nname = .*\n(patch = .*\n)?')
NAME = 'name = "shop-checkout"'
ENTRY = 'entry = "/index.html"'
SITE = 'site = "."'
PERSONAS = 'personas = ["hurried-mobile-shopper", "careful-desktop-researcher", "low-vision-senior"]'
GOAL = 'click = "#place-order"\n'
CART_NEXT = 'next = "#checkout"'
PRODUCT = 'page = "/product.html"'
SIM = ("simulate", "{exp}", "--sessions", "1")
SMOKE = ("smoke", "{exp}")
ROLL = ("rollout", "{exp}", "--candidate", "big-cta")


def _selector(label: str, value: str, *fragments: str, argv: tuple[str, ...] = SIM) -> Case:
    return Case(f"funnel next {label}", argv, ("funnel[2].next", *fragments), edit=sub(CART_NEXT, f"next = {value}"))


def _goal(label: str, value: str, *fragments: str) -> Case:
    return Case(f"goal click {label}", SIM, ("goals.conversion.click", *fragments),
                edit=sub(GOAL, f"click = {value}\n"))


def _name(label: str, value: str, argv: tuple[str, ...] = SIM) -> Case:
    return Case(f"name {label}", argv, ("name",), edit=sub(NAME, f"name = {value}"))


def _rollout(label: str, line: str, fragment: str) -> Case:
    return Case(f"[rollout] {label}", ROLL, (fragment,), edit=end(f"[rollout]\n{line}"))


SHOP_TEXT_ENCODINGS: list[Case] = [
    Case("experiment.toml in UTF-16 LE", SIM, ("UTF-16",), encoding="utf-16"),
    Case("experiment.toml in UTF-16 BE", SMOKE, ("UTF-16",), edit=top("\ufeff#"), encoding="utf-16-be"),
    Case("experiment.toml UTF-16 without BOM", SIM, ("binary",), encoding="utf-16-le"),
    Case("experiment.toml is a PNG", SIM, ("not UTF-8",),
         files={"experiment.toml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff"}),
    Case("experiment.toml in Windows-1252", ROLL, ("not UTF-8",), edit=top("# caf\u00e9"), encoding="cp1252"),
    Case("experiment.toml with a NUL", SIM, ("binary",), edit=top("# a\x00b")),
    Case("experiment.toml empty", SIM, ("name", "Field required"), files={"experiment.toml": ""}),
    Case("experiment path is a folder", ("simulate", "{site}"), ("is a folder",), source="{site}"),
    Case("experiment file missing", ("simulate", "{site}/nope.toml"), ("no such file",), source="{site}/nope.toml"),
    Case("malformed TOML: unclosed table", SIM, ("malformed TOML",), edit=sub("[slots]", "[slots\n")),
    Case("malformed TOML: duplicate key", SMOKE, ("malformed TOML",), edit=top('name = "again"')),
    Case("malformed TOML: unterminated string", ("nightly", "{exp}"), ("malformed TOML",),
         edit=sub(NAME, 'name = "shop')),
    Case("malformed TOML in train", ("train", "{exp}", "--sessions", "1"), ("malformed TOML",), edit=top("= 1")),
]

NAMES = [
    _name("empty", '""'), _name("climbing out", '"../../../x"', argv=("nightly", "{exp}")),
    _name("with a slash", '"a/b"'),
    _name("a dot", '"."'), _name("two dots", '".."', argv=SMOKE), _name("leading space", '" shop"'),
    _name("inner space", '"shop checkout"'), _name("too long", '"' + "x" * 81 + '"'), _name("a number", "5"),
    _name("leading dash", '"-shop"'), _name("a newline", '"shop\\n"'), _name("a backslash", '"..\\\\x"'),
    Case("name missing", SIM, ("name", "Field required"), edit=drop(r'^name = "shop-checkout"\n')),
]

FUNNEL = [
    Case("funnel = []", SIM, ("funnel", "empty"), edit=both(NO_FUNNEL, top("funnel = []"))),
    Case("no funnel", SMOKE, ("funnel", "empty"), edit=NO_FUNNEL),
    Case("funnel step without page", SIM, ("funnel[1].page", "Field required"), edit=sub(PRODUCT + "\n", "")),
    Case("funnel page empty", SIM, ("funnel[1].page", "not a path"), edit=sub(PRODUCT, 'page = ""')),
    Case("funnel page relative", SIM, ("funnel[1].page", "not a path"), edit=sub(PRODUCT, 'page = "product.html"')),
    Case("funnel page on another host", SIM, ("funnel[1].page",), edit=sub(PRODUCT, 'page = "//evil.example/x"')),
    Case("funnel page a URL", SMOKE, ("funnel[1].page",), edit=sub(PRODUCT, 'page = "http://evil.example/"')),
    Case("funnel page missing", SMOKE, ("funnel[1].page", "not a file"), edit=sub(PRODUCT, 'page = "/missing.html"')),
    Case("funnel page missing (simulate)", SIM, ("funnel[1].page", "not a file"),
         edit=sub(PRODUCT, 'page = "/gone.html"')),
    Case("funnel page outside the site", ROLL, ("funnel[1].page", "not a file"),
         edit=sub(PRODUCT, 'page = "/../outside.html"'), files={"../outside.html": "<p>outside</p>"}),
    Case("funnel page with a space", SIM, ("funnel[1].page",), edit=sub(PRODUCT, 'page = "/product .html"')),
    Case("funnel page a number", SIM, ("funnel[1].page",), edit=sub(PRODUCT, "page = 5")),
    Case("funnel step unknown key", SIM, ("funnel[1].nxt",), edit=sub(PRODUCT, PRODUCT + '\nnxt = "#x"')),
    Case("funnel not a list", SIM, ("funnel",), edit=both(NO_FUNNEL, top('funnel = "index"'))),
    Case("funnel of strings", SIM, ("funnel[0]",), edit=both(NO_FUNNEL, top('funnel = ["/index.html"]'))),
    _selector("syntax error", '"#a["', "not a selector", argv=SMOKE),
    _selector("xpath", '"xpath=//a"', "Playwright", argv=SMOKE),
    _selector("text engine", '"text=Checkout"', "Playwright"),
    _selector("css engine", '"css=#checkout"', "Playwright"),
    _selector("chained", '"#cart >> #checkout"', "Playwright"),
    _selector("id engine", '"id=checkout"', "Playwright"),
    _selector("bare xpath", '"//a[@id]"', "Playwright"),
    _selector("quoted text", "'\"Checkout\"'", "Playwright"),
    _selector("role engine", '"internal:role=button"', "Playwright"),
    _selector("test-id engine", '"data-testid=checkout"', "Playwright"),
    _selector("empty", '""', "empty selector"),
    _selector("attribute value", "\"a[href='/checkout.html']\"", "attribute"),
    _selector("pseudo-element", '"#checkout::before"', "pseudo-element"),
    _selector(":has()", '"#checkout:has(span)"', ":has()"),
    _selector("a rule", '"#checkout { color: red }"', "{}"),
    _selector("markup", '"<a>"', "'<'"),
    _selector("too long", '"#' + "a" * 600 + '"', "longer than"),
    _selector("a number", "7", "string"),
    _selector("a bang", '"#checkout!"', "'!'"),
]

ENTRIES = [
    Case("entry empty", SMOKE, ("entry", "not a path"), edit=sub(ENTRY, 'entry = ""')),
    Case("entry relative", SIM, ("entry", "not a path"), edit=sub(ENTRY, 'entry = "index.html"')),
    Case("entry missing", SMOKE, ("entry", "not a file"), edit=sub(ENTRY, 'entry = "/missing.html"')),
    Case("entry missing (rollout)", ROLL, ("entry", "not a file"), edit=sub(ENTRY, 'entry = "/nope/index.html"')),
    Case("entry on another host", SIM, ("entry",), edit=sub(ENTRY, 'entry = "//evil.example/"')),
    Case("entry a URL", SIM, ("entry",), edit=sub(ENTRY, 'entry = "http://127.0.0.1:9/"')),
    Case("entry outside the site", SIM, ("entry", "not a file"), edit=sub(ENTRY, 'entry = "/../outside.html"'),
         files={"../outside.html": "<p>outside</p>"}),
    Case("entry a number", SIM, ("entry",), edit=sub(ENTRY, "entry = 3")),
]

GOALS = [
    Case("goal without a trigger", SIM, ("goals.signup",), edit=end("[goals.signup]")),
    _goal("syntax error", '"#a["', "not a selector"), _goal("xpath", '"xpath=//button"', "Playwright"),
    _goal("text engine", '"text=Place order"', "Playwright"), _goal("empty", '""', "empty selector"),
    _goal("a number", "3", "string"), _goal("chained", '"#place-order >> text=Go"', "Playwright"),
    Case("goal url relative", SIM, ("goals.conversion.url", "not a path"),
         edit=sub(GOAL, GOAL + 'url = "thanks.html"\n')),
    Case("goal url missing", SMOKE, ("goals.conversion.url", "not a file"),
         edit=sub(GOAL, GOAL + 'url = "/missing.html"\n')),
    Case("goal url another origin", SIM, ("goals.conversion.url",), edit=sub(GOAL, 'url = "https://evil.example/t"\n')),
    Case("goal unknown key", SIM, ("goals.conversion.selector",), edit=sub(GOAL, GOAL + 'selector = "#x"\n')),
    Case("goals not a table", SIM, ("goals",),
         edit=both(drop(r"^\[goals\.conversion\]\nclick = .*\n"), top('goals = "x"'))),
]

VARIANTS = [
    Case("variants = []", SIM, ("variants", "no variants"), edit=both(NO_VARIANTS, top("variants = []"))),
    Case("duplicate variant names", SIM, ("unique",), edit=end('[[variants]]\nname = "control"')),
    Case("variant name empty", SIM, ("variants[4].name",), edit=end('[[variants]]\nname = ""')),
    Case("variant name climbing out", SIM, ("variants[4].name",), edit=end('[[variants]]\nname = "../x"')),
    Case("variant patch missing", SIM, ("variants.gone.patch",),
         edit=end('[[variants]]\nname = "gone"\npatch = "gone.css"')),
    Case("variant patch a folder", SIM, ("variants.dir.patch",),
         edit=end('[[variants]]\nname = "dir"\npatch = "variants"')),
    Case("patch with url()", SMOKE, ("url",), source="{site}/evil.css",
         edit=end('[[variants]]\nname = "e"\npatch = "evil.css"'),
         files={"evil.css": "#add-to-cart { background: url(https://evil.example/?leak) }\n"}),
    Case("patch with markup", SIM, ("'<'",), source="{site}/evil.css",
         edit=end('[[variants]]\nname = "e"\npatch = "evil.css"'),
         files={"evil.css": "#a { color: red } </style><script>x()</script>\n"}),
    Case("patch not UTF-8", SIM, ("not UTF-8",), source="{site}/l1.css",
         edit=end('[[variants]]\nname = "l"\npatch = "l1.css"'),
         files={"l1.css": "#a { content: 'caf\xe9' }".encode("latin-1")}),
    Case("patch of the wrong kind", SIM, ("variants.js.patch", "nor .toml"),
         edit=end('[[variants]]\nname = "js"\npatch = "p.js"'), files={"p.js": "alert(1)"}),
    Case("patch ops not a list keeps [[ops]]", SIM, ("ops", "[[ops]]"), source="{site}/p.toml",
         edit=end('[[variants]]\nname = "p"\npatch = "p.toml"'), files={"p.toml": 'ops = "x"\n'}),
    Case("patch op sets onclick", SIM, ("ops[0].attr",), source="{site}/p.toml",
         edit=end('[[variants]]\nname = "p"\npatch = "p.toml"'),
         files={"p.toml": '[[ops]]\nop = "set_attr"\nselector = "#a"\nattr = "onclick"\nvalue = "x()"\n'}),
    Case("unchosen variant's bad patch", ("simulate", "{exp}", "--sessions", "1", "--variant", "control"), ("url",),
         source="{site}/evil.css", edit=end('[[variants]]\nname = "e"\npatch = "evil.css"'),
         files={"evil.css": "#a { background: url(x.png) }\n"}),
    Case("variant unknown key", SIM, ("variants[4].colour",), edit=end('[[variants]]\nname = "x"\ncolour = "red"')),
]

PEOPLE_AND_SITE = [
    Case("no personas", SIM, ("personas",), edit=sub(PERSONAS, "personas = []")),
    Case("unknown persona", SMOKE, ("personas[2]", "low-vision-seniors"),
         edit=sub('"low-vision-senior"', '"low-vision-seniors"')),
    Case("personas not a list", SIM, ("personas",), edit=sub(PERSONAS, 'personas = "hurried-mobile-shopper"')),
    Case("persona file missing", SIM, ("nobody.toml",), source="nobody.toml",
         edit=sub(PERSONAS, 'personas = ["./nobody.toml"]')),
    Case("persona file malformed", SIM, ("p.toml",), source="p.toml", edit=sub(PERSONAS, 'personas = ["./p.toml"]'),
         files={"p.toml": "name = [\n"}),
    Case("site and base_url", SIM, ("exactly one",), edit=sub(SITE, SITE + '\nbase_url = "http://127.0.0.1:9"')),
    Case("neither site nor base_url", SIM, ("exactly one",), edit=drop(r'^site = "\."\n')),
    Case("site folder missing", SIM, ("site",), edit=sub(SITE, 'site = "nowhere"')),
    Case("site is a file", SIM, ("site",), edit=sub(SITE, 'site = "index.html"')),
    Case("base_url not http", SIM, ("base_url",), edit=sub(SITE, 'base_url = "ftp://x"')),
    Case("base_url empty", SIM, ("exactly one",), edit=sub(SITE, 'base_url = ""')),
    Case("base_url unreachable", SIM, ("unreachable",), code=4, edit=sub(SITE, 'base_url = "http://127.0.0.1:9"')),
    Case("slot of unknown kind", SIM, ("unknown slot kind",),
         edit=sub('buy_box = "#buy-box"', 'buy_box = { selector = "#buy-box", kind = "widget" }')),
    Case("slot selector syntax error", SIM, ("slots",), edit=sub('buy_box = "#buy-box"', 'buy_box = "#buy-box["')),
    Case("slot selector xpath", SIM, ("slots",), edit=sub('buy_box = "#buy-box"', 'buy_box = "xpath=//div"')),
]

TABLES = [
    _rollout("stages 0 and 200", "stages = [0, 200]", "rollout.stages"),
    _rollout("stages down", "stages = [50, 10]", "rollout.stages"),
    _rollout("stages empty", "stages = []", "rollout.stages"),
    _rollout("eleven stages", f"stages = {list(range(5, 60, 5))}", "rollout.stages"),
    _rollout("one session a stage", "sessions_per_stage = 1", "rollout.sessions_per_stage"),
    _rollout("a billion sessions a stage", "sessions_per_stage = 1000000000", "rollout.sessions_per_stage"),
    _rollout("alpha 0.9", "alpha = 0.9", "rollout.alpha"),
    _rollout("primary revenue", 'primary = "revenue"', "rollout.primary"),
    _rollout("unknown key", "speed = 2", "rollout.speed"),
    _rollout("guardrail above 1", "guardrails = { bounce = 2 }", "rollout.guardrails.bounce"),
    Case("[agent] gamma 2", SIM, ("agent.gamma",), edit=end("[agent]\ngamma = 2")),
    Case("[agent] negative reward", SIM, ("agent.reward.result",), edit=end("[agent]\nreward = { result = -1 }")),
    Case("unknown top-level key", SIM, ("nonsense",), edit=top("nonsense = 1")),
]

CMD_SIM, CMD_ROLL, CMD_NIGHT, CMD_TRAIN = "uiab simulate", "uiab rollout", "uiab nightly", "uiab train"
OPTIONS = [
    Case("simulate --sessions 0", (*SIM[:2], "--sessions", "0"), ("--sessions",), source=CMD_SIM),
    Case("simulate --sessions 1000000000", (*SIM[:2], "--sessions", "1000000000"), ("--sessions", "10000"),
         source=CMD_SIM),
    Case("simulate --sessions abc", (*SIM[:2], "--sessions", "abc"), ("--sessions",), source=CMD_SIM),
    Case("simulate --concurrency 0", (*SIM, "--concurrency", "0"), ("--concurrency",), source=CMD_SIM),
    Case("simulate --concurrency 1000", (*SIM, "--concurrency", "1000"), ("--concurrency",), source=CMD_SIM),
    Case("simulate --seed abc", (*SIM, "--seed", "abc"), ("--seed",), source=CMD_SIM),
    Case("simulate unknown option", (*SIM, "--frobnicate"), ("--frobnicate",), source=CMD_SIM),
    Case("simulate missing argument", ("simulate",), ("experiment",), source=CMD_SIM),
    Case("simulate --variant nope", (*SIM, "--variant", "nope"), ("variants", "nope")),
    Case("simulate --persona nobody", (*SIM, "--persona", "nobody"), ("personas", "nobody")),
    Case("rollout --stages 0,200", (*ROLL, "--stages", "0,200"), ("--stages",), source=CMD_ROLL),
    Case("rollout --stages 200", (*ROLL, "--stages", "200"), ("--stages",), source=CMD_ROLL),
    Case("rollout --stages 50,10", (*ROLL, "--stages", "50,10"), ("--stages",), source=CMD_ROLL),
    Case("rollout --stages 10,10", (*ROLL, "--stages", "10,10"), ("--stages",), source=CMD_ROLL),
    Case("rollout --stages empty", (*ROLL, "--stages", ""), ("--stages",), source=CMD_ROLL),
    Case("rollout --stages ten", (*ROLL, "--stages", "ten"), ("--stages",), source=CMD_ROLL),
    Case("rollout --stages eleven steps", (*ROLL, "--stages", ",".join(map(str, range(5, 60, 5)))),
         ("--stages", "more than 10"), source=CMD_ROLL),
    Case("rollout --sessions-per-stage 1", (*ROLL, "--sessions-per-stage", "1"), ("--sessions-per-stage",),
         source=CMD_ROLL),
    Case("rollout --sessions-per-stage 1000000000", (*ROLL, "--sessions-per-stage", "1000000000"),
         ("--sessions-per-stage",), source=CMD_ROLL),
    Case("rollout without --candidate", ("rollout", "{exp}"), ("--candidate",), source=CMD_ROLL),
    Case("rollout --candidate unknown", ("rollout", "{exp}", "--candidate", "nope"), ("--candidate", "'nope'"),
         source="experiment.toml"),
    Case("rollout --candidate missing patch", ("rollout", "{exp}", "--candidate", "{site}/gone.css"), ("--candidate",),
         source="{site}/gone.css"),
    Case("rollout --replay 999 without a database", ("rollout", "--replay", "999"), ("no database",), source="{db}"),
    Case("rollout --replay 999 not in the database", ("rollout", "--replay", "999"), ("--replay", "999"),
         source="{db}", db="uiab"),
    Case("rollout --replay abc", ("rollout", "--replay", "abc"), ("--replay",), source=CMD_ROLL),
    Case("nightly --stages 0,200", ("nightly", "{exp}", "--stages", "0,200"), ("--stages",), source=CMD_NIGHT),
    Case("nightly --sessions 1000000000", ("nightly", "{exp}", "--sessions", "1000000000"), ("--sessions",),
         source=CMD_NIGHT),
    Case("nightly --train-sessions 0", ("nightly", "{exp}", "--train-sessions", "0"), ("--train-sessions",),
         source=CMD_NIGHT),
    Case("nightly --sessions-per-stage 1", ("nightly", "{exp}", "--sessions-per-stage", "1"), ("--sessions-per-stage",),
         source=CMD_NIGHT),
    Case("train --sessions 1000000000", ("train", "{exp}", "--sessions", "1000000000"), ("--sessions",),
         source=CMD_TRAIN),
    Case("train --policy magic", ("train", "{exp}", "--sessions", "1", "--policy", "magic"), ("--policy",),
         source=CMD_TRAIN),
    Case("train --resume missing", ("train", "{exp}", "--sessions", "1", "--resume", "{site}/nope.pt"), ("--resume",),
         source="{site}/nope.pt"),
    Case("smoke --device unknown", (*SMOKE, "--device", "iPhone 99"), ("iPhone 99",), source="--device"),
    Case("smoke --variant nope", (*SMOKE, "--variant", "nope"), ("variants", "nope")),
    Case("report without a database", ("report", "999"), ("no database",), source="{db}"),
    Case("report of a run not in the database", ("report", "999"), ("RUN_ID", "999"), source="{db}", db="uiab"),
    Case("report abc", ("report", "abc"), ("RUN_ID",), source="uiab report"),
    Case("report missing RUN_ID", ("report",), ("run",), source="uiab report"),
    Case("decisions without a database", ("decisions", "999"), ("no database",), source="{db}"),
    Case("decisions of a run not in the database", ("decisions", "999"), ("RUN_ID",), source="{db}", db="uiab"),
    Case("decisions abc", ("decisions", "abc"), ("run_id",), source="uiab decisions"),
    Case("patch check missing file", ("patch", "check", "{site}/nope.css"), ("not found",), source="{site}/nope.css"),
    Case("patch check bad CSS", ("patch", "check", "{site}/bad.css"), ("line 2",), source="{site}/bad.css",
         files={"bad.css": "#a { color: red }\ninput[value^='a'] { color: blue }\n"}),
    Case("patch check ops not a list", ("patch", "check", "{site}/p.toml"), ("[[ops]]",), source="{site}/p.toml",
         files={"p.toml": 'ops = "x"\n'}),
    Case("unknown command", ("frobnicate",), ("frobnicate",), source="uiab"),
]

DATABASES = [
    Case("simulate on a foreign database", SIM, ("--db", "not a uiab database"), source="{db}", db="foreign"),
    Case("smoke on a foreign database", SMOKE, ("--db", "not a uiab database"), source="{db}", db="foreign"),
    Case("rollout on a foreign database", ROLL, ("--db", "not a uiab database"), source="{db}", db="foreign"),
    Case("report on a foreign database", ("report", "1"), ("not a uiab database",), source="{db}", db="foreign"),
    Case("decisions on a foreign database", ("decisions", "1"), ("not a uiab database",), source="{db}", db="foreign"),
    Case("replay on a foreign database", ("rollout", "--replay", "1"), ("not a uiab database",), source="{db}",
         db="foreign"),
    Case("simulate on a newer schema", SIM, ("newer",), source="{db}", db="newer"),
    Case("report on a newer schema", ("report", "1"), ("newer",), source="{db}", db="newer"),
    Case("report on an older schema is not migrated", ("report", "1"), ("older",), source="{db}", db="older"),
    Case("decisions on an older schema is not migrated", ("decisions", "1"), ("older",), source="{db}", db="older"),
    Case("report on an empty file", ("report", "1"), ("empty",), source="{db}", db="empty"),
    Case("simulate on a text file", SIM, ("not a usable uiab database",), source="{db}", db="text"),
    Case("report on a text file", ("report", "1"), ("not a usable uiab database",), source="{db}", db="text"),
    Case("database in a missing folder", (*SIM, "--db", "{site}/no/such/u.db"), ("--db", "does not exist"),
         source="{site}/no/such/u.db"),
    Case("database is a folder", SIM, ("--db", "a folder"), source="{db}", db="folder"),
]

SETTINGS = "uiab.toml or UIAB_* environment"
ENVIRONMENT = [
    Case("UIAB_CONCURRENCY=0", SIM, ("concurrency",), source=SETTINGS, env={"UIAB_CONCURRENCY": "0"}),
    Case("UIAB_CONCURRENCY=abc", SIM, ("concurrency",), source=SETTINGS, env={"UIAB_CONCURRENCY": "abc"}),
    Case("UIAB_CONCURRENCY=1000", SIM, ("concurrency",), source=SETTINGS, env={"UIAB_CONCURRENCY": "1000"}),
    Case("UIAB_HEADLESS=maybe", SIM, ("headless",), source=SETTINGS, env={"UIAB_HEADLESS": "maybe"}),
    Case("UIAB_SEED=abc", SIM, ("seed",), source=SETTINGS, env={"UIAB_SEED": "abc"}),
    Case("uiab.toml malformed", SIM, ("malformed TOML",), source="uiab.toml",
         cwd_files={"uiab.toml": "concurrency = [\n"}),
    Case("uiab.toml unknown key", SIM, ("speed",), source=SETTINGS, cwd_files={"uiab.toml": "speed = 2\n"}),
    Case("uiab.toml not UTF-8", SIM, ("not UTF-8",), source="uiab.toml", cwd_files={"uiab.toml": b"seed = 1 # \xe9\n"}),
]

# These need the page: the site is walked once, unpatched, before anything is written.
ON_THE_PAGE = [
    Case("funnel selector matches nothing", (*SMOKE, "--device", "iPhone 13"), ("funnel[2].next", "#no-such-button"),
         edit=sub(CART_NEXT, 'next = "#no-such-button"')),
    Case("goal selector matches nothing", (*SMOKE, "--device", "Desktop Chrome"),
         ("goals.conversion.click", "#no-such-goal"), edit=sub(GOAL, 'click = "#no-such-goal"\n')),
    Case("goal selector matches nothing (simulate)", SIM, ("goals.conversion.click", "#never"),
         edit=sub(GOAL, 'click = "#never"\n')),
    Case("funnel selector matches nothing (simulate)", SIM, ("funnel[1].next", "#add-to-kart"),
         edit=sub('next = "#add-to-cart"', 'next = "#add-to-kart"')),
]

CASES: list[Case] = [*SHOP_TEXT_ENCODINGS, *NAMES, *FUNNEL, *ENTRIES, *GOALS, *VARIANTS, *PEOPLE_AND_SITE, *TABLES,
                     *OPTIONS, *DATABASES, *ENVIRONMENT, *ON_THE_PAGE]

# Valid inputs the checks must let through: exit 0, nothing on stderr that says error.
CONTROLS: list[Case] = [
    Case("control: smoke of a BOM-saved experiment with a dotted name and a selector list",
         (*SMOKE, "--variant", "control", "--device", "Desktop Chrome"), (), code=0,
         edit=both(top("\ufeff# saved by a Windows editor"), sub(NAME, 'name = "shop_checkout.v2"'),
                   sub(GOAL, 'click = "#place-order, #never-there"\n'))),
    Case("control: one simulated session",
         (*SIM, "--variant", "control", "--persona", "careful-desktop-researcher"), (), code=0),
    Case("control: patch check of a valid patch", ("patch", "check", "{site}/variants/big-cta.css"), (), code=0),
    Case("control: the persona library", ("personas", "list"), (), code=0),
]
