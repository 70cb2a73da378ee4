"""Fixtures for the browser tests: Debian's Chromium driven by Playwright against a real `cases serve`.

Once per test process (session scope, so one browser and one server serve every test of a worker):
`shop` runs the shop's bot (`shop_bot.py`) in a subprocess with `casebank.init()`, so its traces go
through real capture, with its LLM call answered by the fake model on 127.0.0.1; it then makes
`read` and `flag` tokens and records three runs of a small suite (`run_suite`, as `cases run`).
`server` serves that store with the real `cases serve`, and `browser` is Chromium itself (`make
test` installs the package; Playwright's own browser download cannot run on these machines).

A test's `visit` is a fresh browser context (its own cookies) that may reach only the server: any
other request is refused and fails the test. Without a browser the tests skip, except under
CI=true, where they fail: a green CI must mean they ran. Screenshots go to tests/.artifacts/browser
(or $CASEBANK_ARTIFACTS); with CASEBANK_SCREENSHOTS=DIR the README's ones are written there too.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from casebank.replay import Case, run_suite, write_case
from casebank.store import open_store, token_hash
from tests.browser.shop_bot import IMG
from tests.cli.conftest import PROJECT_ROOT
from tests.fakes import API_KEY, FakeLLM, Reply
from tests.server.conftest import ADMIN, Server, start_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request, Route

# As root, Chromium runs only without its sandbox; the rest keeps it from calling home, which this
# machine's closed network answers by refusing connections (and slow starts).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1200, "height": 800}
TIMEOUT_MS = 20_000  # one wait's deadline: a selector, a navigation; never a pause
READ = "read-token-for-browser-tests-0123456789"
FLAG = "flag-token-for-browser-tests-0123456789"
ANSWER = "You can return shoes within 14 days of delivery."
ARTIFACTS = Path(os.environ.get("CASEBANK_ARTIFACTS") or PROJECT_ROOT / "tests" / ".artifacts") / "browser"
SCREENSHOTS = os.environ.get("CASEBANK_SCREENSHOTS")


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


if importlib.util.find_spec("playwright") is None and not under_ci():
    collect_ignore_glob = ["test_*.py"]  # nothing to drive a browser with (`pip install -e '.[dev]'`)


def tid(name: str) -> str:
    """The selector of a `data-testid` hook (the contract between the pages and these tests)."""
    return f'[data-testid="{name}"]'


def unavailable(why: str) -> NoReturn:
    if under_ci():
        pytest.fail(f"the browser tests cannot run under CI: {why}")
    pytest.skip(f"no browser: {why} - run 'make chromium' (apt-get install chromium)")


def cases_env(db: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASEBANK_", "OPENAI_", "ANTHROPIC_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    env.update({"CASEBANK_DB": str(db), "NO_COLOR": "1", "COLUMNS": "100", **more})
    return env


def cases(folder: Path, db: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real `cases` command in `folder`."""
    return subprocess.run(
        [sys.executable, "-m", "casebank", *args],
        cwd=folder,
        env=cases_env(db, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@dataclass(frozen=True)
class Shop:
    """The store the pages show and what the tests need to know of it."""

    folder: Path
    db: Path
    run_ids: list[str]


SUITE = [  # (id, question, expected, tag): version 1 fails both refund cases, every version the markup one
    ("refund-window", "How long is the refund window?", "We refund within 30 days.", "refunds"),
    ("refund-shoes", "Can I return worn shoes?", "We refund within 30 days.", "refunds"),
    ("shipping-time", "When will my order ship?", "Orders ship within 2 working days.", "shipping"),
    ("greeting", "Hi there", "Happy to help with: Hi there", "smalltalk"),
    ("markup", IMG, "I can only help with orders.", "safety"),
]


def record_runs(folder: Path, db: Path) -> list[str]:
    """Three runs of the suite, recorded in the store: version 1 of the bot, then the fixed one twice.

    In this process through `run_suite`, which `cases run` calls (its command-line path has its own
    test in test_report.py): a subprocess for each would cost seconds of imports."""
    for case_id, question, expected, tag in SUITE:
        case = Case(
            id=case_id,
            created_at="2024-05-01T12:00:00.000+00:00",
            entrypoint="shop_bot:policy",
            input={"question": question},
            expected=expected,
            grader={"name": "exact", "options": {}},
            tags=[tag],
        )
        write_case(case, folder / "evals")
    run_ids: list[str] = []
    sys.path.insert(0, str(folder))
    try:
        for version in ("1", "2", "2"):
            os.environ["SHOP_BOT_VERSION"] = version
            baseline = "latest" if run_ids else None
            # on a thread of its own: the runner runs an event loop, and Playwright's may be running here
            with ThreadPoolExecutor(1) as thread:
                report = thread.submit(run_suite, folder / "evals", store=db, baseline=baseline).result()
            run_ids.append(report.id)
    finally:
        os.environ.pop("SHOP_BOT_VERSION", None)
        sys.path.remove(str(folder))
        sys.modules.pop("shop_bot", None)
    return run_ids


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    folder = tmp_path_factory.mktemp("shop")
    db = folder / "casebank.db"
    shutil.copy(Path(__file__).with_name("shop_bot.py"), folder / "shop_bot.py")
    with FakeLLM() as fake:
        fake.reply = Reply(text=ANSWER, input_tokens=41, output_tokens=12)
        bot = subprocess.run(
            [sys.executable, "shop_bot.py"],
            cwd=folder,
            env=cases_env(db, OPENAI_BASE_URL=fake.openai_url, OPENAI_API_KEY=API_KEY),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert bot.returncode == 0, f"the shop's bot failed:\n{bot.stdout}\n{bot.stderr}"
        assert len(fake.on("/v1/chat/completions")) == 4
    with open_store(db) as store:
        store.add_token("support-lead", token_hash(READ), ["read"])
        store.add_token("support", token_hash(FLAG), ["flag", "read"])
    return Shop(folder=folder, db=db, run_ids=record_runs(folder, db))


@pytest.fixture(scope="session")
def server(shop: Shop) -> Iterator[Server]:
    started = start_server(shop.folder, shop.db, token=ADMIN)
    yield started
    started.stop()


# Package-scoped, not session-scoped: while Playwright's sync API runs, its event loop counts as
# running on this thread, and every later test on the worker that calls asyncio.run() would fail.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        unavailable(f"playwright is not installed ({exc})")
    executable = os.environ.get("CASEBANK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    driver = sync_playwright().start()
    try:
        chromium = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    except Error as exc:
        driver.stop()
        unavailable(f"Chromium ({executable}) did not start: {str(exc).splitlines()[0]}")
    yield chromium
    chromium.close()
    driver.stop()


def save_screenshot(page: Page, name: str, *, readme: bool = False) -> Path:
    """A PNG of what the page shows, as a test artifact (never compared); `readme` ones are also
    written to CASEBANK_SCREENSHOTS (`make screenshots`)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path)
    if readme and SCREENSHOTS:
        folder = Path(SCREENSHOTS) if Path(SCREENSHOTS).is_absolute() else PROJECT_ROOT / SCREENSHOTS
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / path.name)
    return path


@dataclass
class Visit:
    """One person's browser: a page with its own cookies, and what happened in it."""

    page: Page
    base: str
    dialogs: list[str] = field(default_factory=list)  # alert/confirm/prompt texts: trace content must raise none
    errors: list[str] = field(default_factory=list)  # uncaught script errors
    elsewhere: list[str] = field(default_factory=list)  # requests refused for leaving the server

    def goto(self, path: str, *, status: int = 200) -> Any:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == status, f"GET {path}: {response and response.status}"
        return response

    def sign_in(self, token: str) -> None:
        self.goto("/ui/signin")
        self.page.fill(tid("signin-token"), token)
        with self.page.expect_navigation():
            self.page.click(tid("signin-submit"))

    def search(self, q: str) -> None:
        self.goto("/ui/traces")
        self.page.fill(tid("search-q"), q)
        with self.page.expect_navigation():
            self.page.click(tid("search-submit"))

    def open_trace(self, ticket: str) -> str:
        """Find the trace by its ticket id and open it; its id, from the address."""
        self.search(f"ticket_id={ticket}")
        rows = self.page.locator(tid("trace-row"))
        assert rows.count() == 1, f"ticket {ticket}: {rows.count()} rows"
        with self.page.expect_navigation():
            rows.first.locator("a").first.click()
        self.page.wait_for_selector(tid("span-tree"))
        match = re.search(r"/ui/traces/([0-9a-f]+)", self.page.url)
        assert match, self.page.url
        return match.group(1)

    def flag(self, reason: str) -> None:
        """Flag the trace open on the page with `reason`, as support does."""
        self.page.fill(tid("flag-reason"), reason)
        with self.page.expect_navigation():
            self.page.click(tid("flag-submit"))

    def open_incident(self, text: str) -> None:
        """Open the incident whose row in the list holds `text`."""
        self.goto("/ui/incidents")
        with self.page.expect_navigation():
            self.page.locator(tid("incident-row"), has_text=text).locator("a").first.click()

    def shot(self, name: str, *, readme: bool = False, top: str | None = None) -> Path:
        """A screenshot of the viewport; with `top`, scrolled so that element (and its heading) opens it."""
        if top is not None:
            self.page.locator(top).first.evaluate(
                "element => window.scrollTo(0, element.getBoundingClientRect().top + window.scrollY - 70)"
            )
        return save_screenshot(self.page, name, readme=readme)


@pytest.fixture
def visit(browser: Browser, server: Server, request: pytest.FixtureRequest) -> Iterator[Visit]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    seen = Visit(page=page, base=server.url)

    def refuse(route: Route, req: Request) -> None:
        seen.elsewhere.append(req.url)
        route.abort()

    # A regular expression is matched by the driver itself: the server's own requests never wait on Python.
    context.route(re.compile(rf"^(?!{re.escape(server.url)}/|data:)"), refuse)
    page.on("dialog", lambda dialog: (seen.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    yield seen
    failed = ARTIFACTS / f"FAILED-{request.node.name}.png"
    if getattr(request.node, "failed_call", False):
        save_screenshot(page, failed.stem)
    else:
        failed.unlink(missing_ok=True)  # from an earlier run
    context.close()
    assert not seen.elsewhere, f"the pages asked for more than the server: {seen.elsewhere}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if call.when == "call" and report.failed:  # type: ignore[attr-defined]
        item.failed_call = True  # type: ignore[attr-defined]
    return report
