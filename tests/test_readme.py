"""README.md's code blocks run as written, on a small corpus, in README order.

Every fenced ```bash and ```python block of README.md is run, unless the line just above its
fence says why not: ``<!-- not run: REASON -->`` (the set-up command itself, placeholders such
as ``BEIR_DIR``, training runs that take minutes). The shell blocks run with bash in one
temporary folder holding ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/test.tsv``, with
the venv's ``bin`` first on PATH (so a bare ``splade-lite`` resolves, as after
``. .venv/bin/activate``); the Python blocks run with this interpreter in the same folder.
One folder serves all blocks because later blocks read what earlier ones wrote (``vectors/``,
``index/``, ``run.trec``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LANGUAGES = ("bash", "python")
FENCE = re.compile(r"^```(\S*)\s*$")
NOT_RUN = re.compile(r"^\s*<!--\s*not run\s*:(.*?)-->\s*$")
#: A block gets this long before it counts as hung (the slowest, the first, takes ~1 minute).
BLOCK_TIMEOUT_S = 300


@dataclass(frozen=True)
class Block:
    """One fenced code block of the README."""

    line: int  # line number of its opening fence
    lang: str
    code: str
    not_run: str | None  # why it is not run, or None when it is

    @property
    def name(self) -> str:
        return f"README.md:{self.line}:{self.lang}"


def readme_blocks(text: str) -> list[Block]:
    """The fenced code blocks of `text`, in order, with their not-run reasons."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start = i
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
        if end is None:
            raise ValueError(f"README.md:{start + 1}: code fence never closed")
        above = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        marker = NOT_RUN.match(above)
        blocks.append(
            Block(
                line=start + 1,
                lang=match.group(1),
                code="\n".join(lines[start + 1 : end]) + "\n",
                not_run=marker.group(1).strip() if marker else None,
            )
        )
        i = end + 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# The README's blocks and markers (fast, no Java)


def test_every_block_is_bash_or_python_and_every_skip_says_why():
    assert BLOCKS, "no code block found in README.md"
    for block in BLOCKS:
        assert block.lang in LANGUAGES, f"{block.name}: fence language must be one of {LANGUAGES}"
        if block.not_run is not None:
            assert len(block.not_run) >= 10, f"{block.name}: 'not run' needs a reason"
    assert sum(b.not_run is None for b in BLOCKS if b.lang == "bash") >= 3
    assert sum(b.not_run is None for b in BLOCKS if b.lang == "python") >= 2


def test_no_stray_not_run_marker():
    """A marker that is not just above a fence would silently mark nothing."""
    lines = README.read_text(encoding="utf-8").splitlines()
    marked = {b.line for b in BLOCKS if b.not_run is not None}
    for number, line in enumerate(lines, 1):
        if "not run" in line and line.lstrip().startswith("<!--"):
            assert NOT_RUN.match(line), f"README.md:{number}: write <!-- not run: REASON -->"
            below = next(j for j in range(number, len(lines)) if lines[j].strip()) + 1
            assert below in marked, f"README.md:{number}: the marker is not just above a fence"


def test_readme_opens_with_setup_then_tests_and_ci_runs_the_setup():
    setup, tests = BLOCKS[0], BLOCKS[1]
    assert setup.not_run and tests.not_run  # run by CI (.ci/run), not from here
    assert tests.code.strip() == ".venv/bin/python -m pytest"
    steps = [s.strip() for s in setup.code.strip().split("&&")]
    assert steps[0] == "python3 -m venv .venv" and steps[-1] == ".venv/bin/splade-lite demo"
    ci_lines = [
        " ".join(w for w in line.split() if w != "-q")
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    ]
    for step in steps:  # each step, in CI as it is in the README (CI adds -q and demo flags)
        assert any(line == step or line.startswith(step + " ") for line in ci_lines), step
    assert ".venv/bin/python -m pytest" in "\n".join(ci_lines)


# --------------------------------------------------------------------------------------------
# A small corpus named as the README names it

TOPICS = {
    "vaccine": (
        "Vaccines and immunity",
        [
            "A vaccine shows the immune system a harmless piece of a pathogen, so that it "
            "learns to recognise the real germ later.",
            "After vaccination, B cells make antibodies and memory cells remain in the blood "
            "for years, ready to respond quickly to a new infection.",
            "mRNA vaccines carry instructions for cells to build a spike protein, which "
            "triggers an immune response without causing disease.",
            "Herd immunity is reached when enough people are immune that a disease can no "
            "longer spread easily through a population.",
        ],
    ),
    "vitamin": (
        "Vitamins",
        [
            "Vitamin D deficiency weakens bones and is common in children who spend little "
            "time in sunlight.",
            "Rickets is a softening of the bones in children, caused mostly by a lack of "
            "vitamin D or calcium.",
            "Vitamin C is found in citrus fruit; scurvy, its deficiency disease, once killed "
            "many sailors on long voyages.",
        ],
    ),
    "sleep": (
        "Sleep",
        [
            "Adults who sleep less than six hours a night have a higher risk of heart "
            "disease and high blood pressure.",
            "During deep sleep the brain consolidates memories and clears waste products "
            "that build up while we are awake.",
            "Shift workers often suffer from disturbed circadian rhythms, the body's internal "
            "clock that regulates sleep.",
        ],
    ),
    "aurora": (
        "Auroras",
        [
            "The northern lights appear when charged particles from the solar wind collide "
            "with oxygen and nitrogen high in the atmosphere.",
            "Auroras are most often seen near the magnetic poles, in a ring called the "
            "auroral oval.",
            "Strong geomagnetic storms can push the aurora far south and disrupt satellites "
            "and power grids.",
        ],
    ),
    "coffee": (
        "Coffee",
        [
            "Coffee contains caffeine, a stimulant that blocks adenosine receptors and makes "
            "people feel less tired.",
            "Coffee beans are the roasted seeds of a shrub that grows in the tropics, mostly "
            "in Brazil, Vietnam and Colombia.",
        ],
    ),
    "python": (
        "Python programming",
        [
            "In Python, time.sleep pauses the program for a given number of seconds.",
            "A Python list comprehension builds a new list from an iterable in a single "
            "expression.",
            "The Python standard library includes modules for files, networking, dates and "
            "regular expressions.",
        ],
    ),
    "river": (
        "Rivers",
        [
            "The Nile flows north through eleven countries and empties into the Mediterranean Sea.",
            "Floods deposit fertile silt on river plains, which is why early farming grew up "
            "along great rivers.",
            "Dams store water for irrigation and electricity but block the migration of "
            "fish such as salmon.",
        ],
    ),
    "bread": (
        "Baking bread",
        [
            "Yeast ferments the sugars in dough and releases carbon dioxide, which makes "
            "bread rise.",
            "Sourdough bread is leavened by a starter of wild yeast and lactic acid bacteria.",
            "Kneading develops gluten, the network of proteins that gives bread its chewy texture.",
        ],
    ),
    "bee": (
        "Bees",
        [
            "Honey bees make honey from flower nectar, which they store and evaporate in wax "
            "cells of the hive.",
            "Bees pollinate many crops, such as almonds, apples and clover, while they "
            "collect nectar.",
            "A honey bee colony has one queen, thousands of female workers and a few hundred "
            "male drones.",
        ],
    ),
    "train": (
        "Railways",
        [
            "The first public steam railway opened in England in 1825, between Stockton and "
            "Darlington.",
            "High-speed trains run on dedicated tracks at more than 250 kilometres per hour.",
            "Freight trains carry coal, grain and containers over long distances cheaply.",
        ],
    ),
}
QUERIES = {
    "q1": ("how do vaccines trigger immunity", {"vaccine-1": 2, "vaccine-3": 2, "vaccine-2": 1}),
    "q2": ("vitamin deficiency in children", {"vitamin-1": 2, "vitamin-2": 2, "vitamin-3": 1}),
    "q3": ("does lack of sleep harm the heart", {"sleep-1": 2, "sleep-3": 1}),
    "q4": ("what causes the northern lights", {"aurora-1": 2, "aurora-2": 1, "aurora-3": 1}),
    "q5": ("how do bees make honey", {"bee-1": 2, "bee-3": 1}),
}


def write_corpus(folder: Path) -> None:
    """30 documents, 5 queries and their judgements: corpus.jsonl, queries.jsonl, qrels/."""
    docs = [
        {"_id": f"{key}-{n}", "title": title, "text": text}
        for key, (title, texts) in TOPICS.items()
        for n, text in enumerate(texts, 1)
    ]
    assert len(docs) == 30
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, (t, _) in QUERIES.items())
    )
    (folder / "qrels").mkdir()
    rows = [f"{q}\t{d}\t{g}" for q, (_, judged) in QUERIES.items() for d, g in judged.items()]
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(rows))


# --------------------------------------------------------------------------------------------
# Running the blocks


class Workspace:
    """The folder the blocks run in, and which blocks have run there (in README order)."""

    def __init__(self, root: Path):
        self.root = root
        self.folder = root / "work"
        self.folder.mkdir()
        self.scripts = root / "blocks"  # the block files, outside the work folder
        self.scripts.mkdir()
        write_corpus(self.folder)
        bin_dir = sysconfig.get_path("scripts")
        assert (Path(bin_dir) / "splade-lite").exists(), f"no splade-lite in {bin_dir}"
        self.env = {
            **os.environ,
            "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "OPENAI_API_KEY": "unused",
            "HF_HUB_OFFLINE": "1",  # a block that needs the internet must say so, not hang
            "TRANSFORMERS_OFFLINE": "1",
        }
        self.done: dict[int, str | None] = {}  # block line -> failure, None when it passed

    def run_through(self, block: Block) -> None:
        """Run every runnable block up to `block` that has not run yet, then `block`."""
        for earlier in BLOCKS:
            if earlier.not_run is None and earlier.line not in self.done:
                self.done[earlier.line] = self._run(earlier)
            if earlier is block:
                break
        problem = self.done[block.line]
        if problem:
            earlier = [b.name for b in BLOCKS if b.line < block.line and self.done.get(b.line)]
            if earlier:  # their missing outputs may be the cause
                problem += "\n(earlier blocks failed too: " + ", ".join(earlier) + ")"
            pytest.fail(problem, pytrace=False)

    def _run(self, block: Block) -> str | None:
        if block.lang == "bash":
            script = self.scripts / f"block-{block.line}.sh"
            script.write_text(
                "set -eo pipefail\n"
                f"trap 'echo \"{block.name}: exit status $? from: $BASH_COMMAND\" >&2' ERR\n"
                + block.code
            )
            command = ["bash", str(script)]
        else:
            script = self.scripts / f"block-{block.line}.py"
            script.write_text(block.code)
            command = [sys.executable, str(script)]
        try:
            done = subprocess.run(
                command,
                cwd=self.folder,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=BLOCK_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return f"{block.name} ran past {BLOCK_TIMEOUT_S} s:\n{block.code}"
        if done.returncode == 0:
            return None
        output = (done.stdout + done.stderr)[-4000:]
        return f"{block.name} failed (exit status {done.returncode}):\n{block.code}\n{output}"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("readme"))


@pytest.mark.jvm
@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_readme_block_runs_as_written(block: Block, workspace: Workspace):
    if block.not_run is not None:
        pytest.skip(f"{block.name} not run: {block.not_run}")
    workspace.run_through(block)


def test_a_failing_command_fails_its_block(tmp_path):
    """The runner sees a failure in the middle of a block, with the command that failed."""
    workspace = Workspace(tmp_path)
    bash = Block(line=1, lang="bash", code="true\nls missing-file\ntrue\n", not_run=None)
    problem = workspace._run(bash)
    assert problem and "exit status 2 from: ls missing-file" in problem
    python = Block(line=2, lang="python", code="import sys\nsys.exit(3)\n", not_run=None)
    assert "exit status 3" in (workspace._run(python) or "")
    ok = Block(
        line=3, lang="bash", code="test -s corpus.jsonl && command -v splade-lite\n", not_run=None
    )
    assert workspace._run(ok) is None
