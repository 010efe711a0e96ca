"""``proactive test``: run the Gherkin scenarios of a rule set and a policy, no Python needed.

Product teams keep scenarios in ``rules/features/``, compliance in
``ethics/features/``; both are written in the sentences of the shipped step library
(:mod:`proactive.steps`, listed in ``docs/steps.md``). This command runs them with
pytest, the same way the repository's own suite does, and prints one line per
scenario and, for each failure, the step that failed and what happened instead::

    proactive test                       # rules/features and ethics/features
    proactive test my-rules/ -k S22      # one rule directory, scenarios matching S22
    proactive test --junit-xml out.xml   # for CI

How: pytest runs on a throw-away directory holding a ``conftest.py`` that loads the
step library (``pytest_plugins = ["proactive.steps"]``, as ``tests/conftest.py``
does) and overrides its ``scenario_rules_dir`` and ``scenario_policy`` fixtures with
the directories given here, and one module per feature file that binds it with
``pytest_bdd.scenarios``. One module per file, not per directory, so that ``-k``
also selects by file name (``-k data_bundle``). pytest's own terminal output is
switched off; :class:`Reporter` prints instead. The exit status is pytest's.
"""

from __future__ import annotations

import difflib
import re
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click

from proactive.cli.main import fail, main

RULE_FILES = ("offers.yaml", "templates")
"""What makes a directory a rule directory (rather than ``ethics/``)."""
POLICY_FILE = "policy.yaml"


@dataclass(frozen=True)
class Plan:
    """What one ``proactive test`` run binds: feature directories, rule set, policy."""

    features: tuple[Path, ...]
    rules_dir: Path
    policy: Path


def plan(dirs: tuple[Path, ...], rules_dir: Path, policy: Path) -> Plan:
    """Resolve the command's directory arguments.

    A directory with a ``features/`` subdirectory contributes that; any other
    directory is a features directory itself. A rule directory among them (one with
    ``offers.yaml`` or ``templates/``; for a features directory, its parent) is the
    rule set the scenarios run against, else ``rules_dir``; likewise a directory
    with ``policy.yaml`` gives the policy. Raises :class:`click.UsageError` when a
    directory has no feature files or two rule directories are given.
    """
    features: list[Path] = []
    rules: list[Path] = []
    policies: list[Path] = []
    for d in dirs:
        feats = d / "features" if (d / "features").is_dir() else d
        home = d if feats != d else d.parent
        if not any(feats.rglob("*.feature")):
            raise click.UsageError(f"no .feature files in {feats}")
        features.append(feats)
        if any((home / name).exists() for name in RULE_FILES):
            rules.append(home)
        if (home / POLICY_FILE).is_file():
            policies.append(home / POLICY_FILE)
    for kind, found in (("rule directories", rules), ("policies", policies)):
        if len({p.resolve() for p in found}) > 1:
            raise click.UsageError(
                f"scenarios run against one rule set and one policy; got {len(found)} "
                f"{kind}: {', '.join(map(str, found))}"
            )
    return Plan(
        tuple(dict.fromkeys(p.resolve() for p in features)),
        (rules[0] if rules else rules_dir).resolve(),
        (policies[0] if policies else policy).resolve(),
    )


def write_suite(run: Plan, into: Path) -> None:
    """Write the throw-away pytest directory: ini, conftest, one module per feature file."""
    (into / "pytest.ini").write_text(
        "[pytest]\n# written by `proactive test`\njunit_suite_name = proactive\n",
        encoding="utf-8",
    )
    (into / "conftest.py").write_text(
        '"""Written by `proactive test`: the shipped step library over the given rule set."""\n'
        "from pathlib import Path\n\n"
        "import pytest\n\n"
        'pytest_plugins = ["proactive.steps"]\n\n\n'
        "@pytest.fixture\n"
        "def scenario_rules_dir() -> Path:\n"
        f"    return Path({str(run.rules_dir)!r})\n\n\n"
        "@pytest.fixture\n"
        "def scenario_policy() -> Path:\n"
        f"    return Path({str(run.policy)!r})\n",
        encoding="utf-8",
    )
    for n, feats in enumerate(run.features, 1):
        # rules_features.test_data_bundle: a name no importable package has
        label = _identifier(feats.parent.name if feats.name == "features" else feats.name)
        label = f"{label}_features"
        package = into / label
        if package.exists():  # two directories of the same name
            package = into / f"{label}_{n}"
        package.mkdir()
        for feature in sorted(feats.rglob("*.feature")):
            rel = feature.relative_to(feats).with_suffix("")
            module = package / f"test_{_identifier('__'.join(rel.parts))}.py"
            module.write_text(
                f"from pytest_bdd import scenarios\n\nscenarios({str(feature)!r})\n",
                encoding="utf-8",
            )


def _forget_modules(suite: Path) -> None:
    """Drop the suite's modules from ``sys.modules``.

    pytest imports them by a name relative to the suite directory; a second run in
    the same process (the tests, an editor plugin) would otherwise get the first
    run's module, and its scenarios, back.
    """
    packages = {d.name for d in suite.iterdir() if d.is_dir()}
    for name, module in list(sys.modules.items()):
        in_suite = str(getattr(module, "__file__", None) or "").startswith(str(suite))
        if in_suite or name.partition(".")[0] in packages:
            del sys.modules[name]


def _identifier(text: str) -> str:
    return re.sub(r"\W", "_", text) or "features"


@dataclass
class _Scenario:
    title: str
    where: str = ""
    step: str = ""
    error: BaseException | None = None
    unknown_step: bool = False


@dataclass
class Reporter:
    """A pytest plugin that prints one line per scenario and explains each failure.

    ``verbosity``: -1 prints failures and the summary only, 0 also a line per
    passing scenario, 1 also pytest's traceback of a failure (for step authors).
    """

    out: IO[str]
    verbosity: int = 0
    cwd: Path = field(default_factory=Path.cwd)
    known_steps: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    deselected: int = 0
    _scenarios: dict[str, _Scenario] = field(default_factory=dict)

    def _echo(self, text: str = "") -> None:
        click.echo(text, file=self.out)

    def _path(self, filename: str) -> str:
        try:
            return str(Path(filename).resolve().relative_to(self.cwd.resolve()))
        except ValueError:
            return filename

    def _scenario(self, nodeid: str) -> _Scenario:
        if nodeid not in self._scenarios:
            self._scenarios[nodeid] = _Scenario(nodeid.rpartition("::")[2])
        return self._scenarios[nodeid]

    # -- pytest and pytest-bdd hooks ---------------------------------------------

    def pytest_itemcollected(self, item: Any) -> None:
        # until the scenario starts (and names its feature): "file: scenario", as
        # pytest-bdd documents its test functions
        doc = getattr(getattr(item, "obj", None), "__doc__", None) or ""
        filename, sep, scenario = doc.partition(": ")
        if sep:
            param = item.name.partition("[")[2].rstrip("]")
            title = f"{self._path(filename)} › {scenario}" + (f" [{param}]" if param else "")
            self._scenarios[item.nodeid] = _Scenario(title)

    def pytest_bdd_before_scenario(self, request: Any, feature: Any, scenario: Any) -> None:
        s = self._scenario(request.node.nodeid)
        param = request.node.name.partition("[")[2].rstrip("]")
        s.title = f"{feature.name} › {scenario.name}" + (f" [{param}]" if param else "")
        s.where = self._path(feature.filename)

    def pytest_bdd_step_error(
        self, request: Any, feature: Any, scenario: Any, step: Any, exception: Exception
    ) -> None:
        s = self._scenario(request.node.nodeid)
        s.step = f"line {step.line_number}: {step.keyword} {step.name}"
        s.error = exception

    def pytest_bdd_step_func_lookup_error(
        self, request: Any, feature: Any, scenario: Any, step: Any, exception: Exception
    ) -> None:
        s = self._scenario(request.node.nodeid)
        s.step = f"line {step.line_number}: {step.keyword} {step.name}"
        s.unknown_step = True
        s.error = exception

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.counts["error"] = self.counts.get("error", 0) + 1
            self._echo(f"ERROR: {self._collect_error(report)}")

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = "PASS" if report.passed else "SKIP" if report.skipped else "FAIL"
        elif report.when == "teardown" and report.failed:
            outcome = "FAIL"
        else:
            return
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        s = self._scenario(report.nodeid)
        if outcome == "FAIL":
            self._failure(s, report)
        elif self.verbosity >= 0:
            self._echo(f"{s.title}: {outcome}")

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        parts = [
            f"{self.counts[k]} {word}"
            for k, word in (("PASS", "passed"), ("FAIL", "failed"), ("SKIP", "skipped"))
            if self.counts.get(k)
        ]
        if self.counts.get("error"):
            parts.append(f"{self.counts['error']} feature file(s) could not be read")
        if self.deselected:
            parts.append(f"{self.deselected} not selected by -k")
        if not parts:
            parts.append("no scenarios ran")
        self._echo(", ".join(parts))

    def pytest_deselected(self, items: list[Any]) -> None:
        self.deselected += len(items)

    # -- what a failure says -------------------------------------------------------

    def _failure(self, s: _Scenario, report: Any) -> None:
        self._echo(f"{s.title}: FAIL")
        if s.step:
            self._echo(f"    {s.where}, {s.step}" if s.where else f"    {s.step}")
        for line in self._reason(s, report).splitlines():
            self._echo(f"    {line}")
        if self.verbosity > 0 and not s.unknown_step:
            self._echo("    --- traceback ---")
            trace = (
                "".join(traceback.format_exception(s.error))
                if s.error is not None
                else str(report.longreprtext)
            )
            for line in trace.splitlines():
                self._echo(f"    {line}")
        self._echo()

    def _reason(self, s: _Scenario, report: Any) -> str:
        if s.unknown_step:
            text = s.step.partition(": ")[2].partition(" ")[2]
            hint = "no sentence of the step library matches this step (see docs/steps.md)"
            close = closest_steps(text, self.known_steps)
            if close:
                hint += "; the closest:\n" + "\n".join(f"  {c}" for c in close)
            return hint
        if s.error is None:  # failed outside a step: a fixture, a plugin
            crash = getattr(report.longrepr, "reprcrash", None)
            return str(crash.message) if crash is not None else str(report.longreprtext)
        if isinstance(s.error, AssertionError):
            # the step's own message; pytest appends its "assert ..." explanation when
            # it rewrote the step library's asserts (when it was loaded by a test suite)
            text = str(s.error)
            cut = text.rfind("\nassert ")
            return (text[:cut] if cut > 0 else text) or "an expectation failed"
        return f"the step raised {type(s.error).__name__}: {s.error}"

    def _collect_error(self, report: Any) -> str:
        crash = getattr(report.longrepr, "reprcrash", None)
        text = str(crash.message) if crash is not None else str(report.longrepr)
        text = text.replace(str(self.cwd.resolve()) + "/", "")
        return "a feature file cannot be read: " + text.removeprefix("pytest_bdd.exceptions.")


def _readable(pattern: str) -> str:
    """A step pattern as a sentence: ``{customer:Q}`` and ``(?P<rule>...)`` become names."""
    out, i = [], 0
    while i < len(pattern):
        m = re.match(r"\(\?P<(\w+)>", pattern[i:])
        if m is None:
            out.append(pattern[i])
            i += 1
            continue
        depth, j = 0, i
        while j < len(pattern):  # skip to the group's closing parenthesis
            depth += {"(": 1, ")": -1}.get(pattern[j], 0) if pattern[j - 1] != "\\" else 0
            j += 1
            if depth == 0:
                break
        out.append(f"<{m.group(1)}>")
        i = j
    text = re.sub(r"\{(\w+)(:[^}]*)?\}", r"<\1>", "".join(out))
    return text.replace("<texts>", '"<text>" or "<text>"')


def _shape(text: str) -> str:
    """A sentence with its arguments blanked, for comparing a step with the library's."""
    text = re.sub(r'"[^"]*"', "<>", text)
    text = re.sub(r"<\w*>", "<>", text)
    return re.sub(r"\d[\d:.\-]*", "<>", text).lower()


def library_steps() -> list[str]:
    """Every sentence of the step library, readable (``customer "<customer>" gets …``)."""
    import proactive.steps as library

    prefix = "pytestbdd_stepdef_"
    found = []
    for name in vars(library):
        if name.startswith(prefix):
            kind, _, pattern = name[len(prefix) :].partition("_")
            found.append(f"{kind.capitalize()} {_readable(pattern)}")
    return list(dict.fromkeys(found))


def closest_steps(text: str, known: list[str], n: int = 3) -> list[str]:
    """The library's sentences most like ``text`` (arguments do not count)."""
    shapes = {_shape(k.partition(" ")[2]): k for k in known}
    return [shapes[s] for s in difflib.get_close_matches(_shape(text), shapes, n=n, cutoff=0.6)]


@main.command(name="test")
@click.argument("dirs", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-k", "keyword", default=None, help="Only scenarios matching this pytest -k expression"
)
@click.option("-q", "--quiet", is_flag=True, help="Print failures and the summary only")
@click.option("-v", "--verbose", is_flag=True, help="Also print the Python traceback of a failure")
@click.option(
    "--junit-xml",
    "junit_xml",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a JUnit XML report (CI)",
)
@click.pass_obj
def test_command(
    settings: Any,
    dirs: tuple[Path, ...],
    keyword: str | None,
    quiet: bool,
    verbose: bool,
    junit_xml: Path | None,
) -> None:
    """Run the Gherkin scenarios of a rule set and a policy.

    DIRS are rule directories with a features/ subdirectory, or features directories
    themselves; by default the rule directory's features/ (rules/features) and those
    next to the policy (ethics/features). The scenarios run against the rule
    directory among DIRS (else --rules) and the policy among them (else --policy).
    Exit status: 0 every scenario passed, 1 one failed, 2 or more a usage problem
    (5: no scenario matched).
    """
    try:
        import pytest
        import pytest_bdd  # noqa: F401  (the step library needs it)
    except ImportError as exc:
        fail(f"proactive test needs pytest and pytest-bdd ({exc}): pip install 'proactive[dev]'")
        return
    if not dirs:
        defaults = (settings.rules_dir, settings.policy.parent)
        dirs = tuple(d for d in defaults if (d / "features").is_dir())
        if not dirs:
            raise click.UsageError(
                f"no scenarios: neither {defaults[0] / 'features'} nor "
                f"{defaults[1] / 'features'} exists; name a directory"
            )
    run = plan(dirs, settings.rules_dir, settings.policy)
    if not (run.rules_dir / "offers.yaml").is_file():
        raise click.UsageError(
            f"{run.rules_dir} is not a rule directory (no offers.yaml): name one, or use --rules"
        )
    if not run.policy.is_file():
        raise click.UsageError(
            f"no ethics policy at {run.policy}: give one, proactive --policy FILE test"
        )
    reporter = Reporter(sys.stdout, verbosity=-1 if quiet else int(verbose))
    reporter.known_steps = library_steps()
    with tempfile.TemporaryDirectory(prefix="proactive-test-") as tmp:
        suite = Path(tmp)
        write_suite(run, suite)
        args = [
            str(suite),
            *("-c", str(suite / "pytest.ini"), "--rootdir", str(suite)),
            *("-p", "no:terminal", "-p", "no:cacheprovider"),
            "--import-mode=importlib",
            "--assert=plain",  # the steps' messages as written, not pytest's rewrite
            "--continue-on-collection-errors",  # one unreadable file: report it, run the rest
            *(("-k", keyword) if keyword else ()),
            *((f"--junitxml={junit_xml.resolve()}",) if junit_xml else ()),
        ]
        try:
            code = int(pytest.main(args, plugins=[reporter]))
        finally:
            _forget_modules(suite)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        click.echo(
            f"no scenario matches -k {keyword!r}" if keyword else "no scenarios found", err=True
        )
    elif code == pytest.ExitCode.USAGE_ERROR and keyword:
        click.echo(
            "-k takes words of scenario names and feature file names, joined by and, or, "
            'not: -k "S22 and not cooldown"',
            err=True,
        )
    sys.exit(code)
