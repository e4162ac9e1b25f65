"""Tiny DOM helpers. User-typed text always goes through textContent, never innerHTML."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import create_proxy

_handlers: list[Any] = []  # proxies live as long as the page; keep them from being freed
_tasks: set[asyncio.Future] = set()  # running handler coroutines, referenced until done


def spawn(coro: Any) -> asyncio.Future:
    """Schedule a coroutine, keep it referenced until it ends, and report its failure."""
    task = asyncio.ensure_future(_report_errors(coro))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


def by_id(element_id: str) -> Any:
    return js.document.getElementById(element_id)


def el(tag: str, text: str | None = None, cls: str | None = None, **attrs: Any) -> Any:
    node = js.document.createElement(tag)
    if text is not None:
        node.textContent = str(text)
    if cls:
        node.className = cls
    for key, value in attrs.items():
        node.setAttribute(key.rstrip("_").replace("_", "-"), str(value))
    return node


def on(node: Any, event: str, handler: Callable[[Any], Any],
       prevent_default: bool = False) -> None:
    """Attach a handler; coroutine handlers are scheduled on the page's event loop, so
    the browser's default action (a form submit, say) is prevented here, during the event,
    when asked: a coroutine runs only after the event is over."""

    def call(evt: Any) -> None:
        if prevent_default:
            evt.preventDefault()
        result = handler(evt)
        if asyncio.iscoroutine(result):
            spawn(result)

    proxy = create_proxy(call)
    _handlers.append(proxy)
    node.addEventListener(event, proxy)


async def _report_errors(coro: Any) -> None:
    try:
        await coro
    except Exception as exc:
        toast(describe(exc))
        raise


def describe(exc: Exception) -> str:
    """A failure as a person should read it: storage errors already say what failed and
    what to do (web/store.js), anything else is unexpected and says so."""
    js_error = getattr(exc, "js_error", None)
    if js_error is not None:
        message = str(getattr(js_error, "message", "") or js_error)
        if str(getattr(js_error, "name", "")) == "StoreError":
            return message
        return f"Something went wrong: {message}"
    return f"Something went wrong: {exc}"


def clear(node: Any) -> None:
    node.replaceChildren()


_toast_task: asyncio.Task | None = None


def toast(message: str, action: str | None = None,
          on_action: Callable[[], Any] | None = None, seconds: float = 6.0) -> None:
    """A short message at the bottom of the page, optionally with one action (e.g. Undo)."""
    global _toast_task
    box, text, button = by_id("toast"), by_id("toast-text"), by_id("toast-action")
    text.textContent = message
    button.hidden = action is None
    if action:
        button.textContent = action
        button.onclick = create_proxy(lambda _e: (_hide_toast(), on_action and _run(on_action)))
    box.hidden = False
    if _toast_task:
        _toast_task.cancel()
    _toast_task = asyncio.ensure_future(_auto_hide(seconds))


def _run(fn: Callable[[], Any]) -> None:
    result = fn()
    if asyncio.iscoroutine(result):
        spawn(result)


def _hide_toast() -> None:
    by_id("toast").hidden = True


async def _auto_hide(seconds: float) -> None:
    await asyncio.sleep(seconds)
    _hide_toast()
