"""`handler`: Reflex's `rx.event` decorator, typed so that mypy sees what Reflex makes of it.

At run time `handler` IS `rx.event` (`@handler`, `@handler(background=True)`). The only
difference is for the type checker: `rx.event` is a class whose `__new__` returns an
`EventCallback`, and mypy ignores a `__new__` that returns another type, so every decorated
handler would type as `EventNamespace` and `State.handler(arg)` in a component would be an
error. Declared here as a function, `State.handler` types as `EventCallback[args…]`:
calling it with the arguments the page passes, `.throttle(ms)` and `.debounce(ms)` all
check, and a wrong argument is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVarTuple, overload

import reflex as rx

if TYPE_CHECKING:
    from reflex_base.event import EventCallback

    Args = TypeVarTuple("Args")

    @overload
    def handler(fn: Callable[[Any, *Args], Any], /) -> EventCallback[*Args]: ...

    @overload
    def handler(
        *, background: bool = ...
    ) -> Callable[[Callable[[Any, *Args], Any]], EventCallback[*Args]]: ...

    def handler(fn: Any = None, /, **options: Any) -> Any: ...

else:
    handler = rx.event

__all__ = ["handler"]
