"""Expression hotkeys in the studio: keys pressed on this page or in the stage window force
or add an expression over the model's output (mimic.hotkeys), shown in the avatar note and
rebindable in the Live tab, kept in the browser's settings."""

from __future__ import annotations

from typing import Any

import js
from pyodide.ffi import create_proxy, to_js

from mimic.hotkeys import DEFAULT_BINDINGS, Hotkeys
from studio.app import App
from studio.dom import by_id, clear, el, on, spawn

_TYPING = ("INPUT", "TEXTAREA", "SELECT")


class HotkeysView:
    def __init__(self, app: App) -> None:
        self.app = app
        self.keys = Hotkeys()
        on(js.document, "keydown", self.on_keydown)
        app.bridge.onStageKey = create_proxy(self.press)
        app.listeners.append(self.render)
        if app.avatar is not None:
            app.avatar.listeners += [self.render, self.apply]

    async def restore(self) -> None:
        saved = await self.app.storage.get_setting("hotkeys")
        if isinstance(saved, dict):
            try:
                self.keys = Hotkeys({str(k): str(v) for k, v in saved.items()})
            except ValueError:
                self.keys = Hotkeys()
        self.render()

    def on_keydown(self, event: Any) -> None:
        target = getattr(event.target, "tagName", "")
        if target in _TYPING or event.ctrlKey or event.metaKey or event.altKey:
            return
        code = str(event.code or "")
        key = code[5:] if code.startswith("Digit") else str(event.key)
        if self.press(key, bool(event.shiftKey)):
            event.preventDefault()

    def press(self, key: str, shift: bool = False) -> bool:
        """A key from this page or the stage window (both send digits by their position, so
        any keyboard layout works)."""
        handled = self.keys.press(str(key), bool(shift))
        if handled:
            self.apply()
        return handled

    def apply(self) -> None:
        held = self.keys.held
        view = getattr(self.app.bridge, "avatar", None)
        if view is not None:
            view.setForced(to_js(list(held)), to_js(list(held.values())), self.keys.exclusive)
        note = by_id("hotkey-note")
        available = None
        driver = self.app.avatar
        if driver is not None and driver.info:
            available = list(driver.info.get("expressions") or [])
        note.textContent = self.keys.describe(available)
        note.hidden = not held
        js.document.body.dataset.hotkeys = ",".join(held)

    # rebinding, in the Live tab ---------------------------------------------------------
    def render(self) -> None:
        table = by_id("hotkey-table")
        clear(table)
        driver = self.app.avatar
        names = list((driver.info or {}).get("expressions") or []) if driver else []
        names = names or list(dict.fromkeys(DEFAULT_BINDINGS.values()))
        head = el("tr")
        for text in ("Key", "Expression"):
            head.append(el("th", text))
        table.append(head)
        for key in "123456789":
            tr = el("tr", data_key=key)
            tr.append(el("td", key))
            select = el("select", aria_label=f"Expression for key {key}", data_key=key)
            select.append(el("option", "(none)", value=""))
            bound = self.keys.bindings.get(key, "")
            for name in dict.fromkeys([*names, bound] if bound else names):
                option = el("option", name, value=name)
                if name == bound:
                    option.setAttribute("selected", "")
                select.append(option)
            on(select, "change", lambda e, k=key: self.rebind(k, str(e.target.value)))
            td = el("td")
            td.append(select)
            tr.append(td)
            table.append(tr)

    def rebind(self, key: str, name: str) -> None:
        self.keys.bind(key, name or None)
        spawn(self.app.storage.set_setting("hotkeys", dict(self.keys.bindings)))
        self.render()
