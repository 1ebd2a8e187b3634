"""Interactive shell: prompt_toolkit line editing, tab completion and '?' help."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from memifctl import grammar
from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.key_binding import KeyBindings


class GrammarCompleter(Completer):
    def __init__(self, mode: Callable[[], str]) -> None:
        self.mode = mode

    def get_completions(self, document: Document, complete_event) -> Iterable[Completion]:
        line = document.text_before_cursor
        partial = "" if not line or line.endswith(" ") else line.split()[-1]
        for word, help_text in grammar.completions(line, self.mode()):
            if word.startswith("<"):
                continue  # a placeholder is help, not something to insert
            yield Completion(word, start_position=-len(partial), display_meta=help_text)


def loop(
    run_line: Callable[[str], bool], prompt: Callable[[], str], mode: Callable[[], str]
) -> None:
    """Read lines until exit/EOF; run_line returns False to stop."""
    kb = KeyBindings()

    @kb.add("?")
    def _(event) -> None:
        buf = event.app.current_buffer
        text = grammar.help_lines(buf.document.text_before_cursor, mode())
        from prompt_toolkit.application import run_in_terminal

        run_in_terminal(lambda: print(text))

    session: PromptSession = PromptSession(
        completer=GrammarCompleter(mode), key_bindings=kb, complete_while_typing=False
    )
    while True:
        try:
            line = session.prompt(prompt())
        except KeyboardInterrupt:
            continue
        except EOFError:
            return
        if not run_line(line):
            return
