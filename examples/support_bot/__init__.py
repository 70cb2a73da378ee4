"""A small support bot, instrumented with casebank: the app that `cases demo` and the README use.

`bot.answer(ticket)` is the entry point casebank records and a case replays. The "model" is a
deterministic stand-in (`model.py`), so the example runs with no network and no key. The
policy service (`policies.py`) is a JSON file, read on every call, that the demo edits.
"""
