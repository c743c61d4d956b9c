"""Split shell source into simple-command segments (quotes, continuations, comments, heredocs).

The scanner only finds statement boundaries; the words of each segment come from bashlex (a real
bash parser) with a POSIX `shlex` fallback for constructs bashlex rejects (see `facts_shell`).
"""

from __future__ import annotations

from dataclasses import dataclass

from recipegen.validators.lazy_re import compile_lazy


class ShellSyntaxError(ValueError):
    """The file cannot be split into statements (unterminated quote or substitution)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


# Fact containers compare by identity and keep object's repr: generating __eq__/__repr__ for
# every dataclass was a measurable part of start-up.
@dataclass(eq=False, repr=False)
class Segment:
    """One simple command (or keyword fragment) between control operators."""

    text: str
    line: int
    end_line: int
    op: str  # operator that ends it: "\n", ";", ";;", "&&", "||", "|", "&", or "" at EOF


@dataclass(eq=False, repr=False)
class Comment:
    line: int
    text: str


_HEREDOC = compile_lazy(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_WORD_BREAK = " \t\n;&|()<>"


def scan(text: str) -> tuple[list[Segment], list[Comment]]:
    """Return the segments and comments of `text`; raise ShellSyntaxError when unbalanced."""
    segments: list[Segment] = []
    comments: list[Comment] = []
    buf: list[str] = []
    stack: list[str] = []  # closers we are waiting for: ' " ) } `
    line = 1
    seg_line = 1
    pending_heredocs: list[tuple[str, bool]] = []
    open_line = 1
    i, n = 0, len(text)

    def flush(op: str) -> None:
        nonlocal seg_line
        body = "".join(buf).strip()
        if body or op in ("&", "||", "&&", "|"):
            segments.append(Segment(body, seg_line, line, op))
        buf.clear()
        seg_line = line

    while i < n:
        c = text[i]
        top = stack[-1] if stack else ""
        if top == "'":
            buf.append(c)
            if c == "'":
                stack.pop()
            elif c == "\n":
                line += 1
            i += 1
            continue
        if c == "\\" and i + 1 < n:
            if text[i + 1] == "\n":  # line continuation
                line += 1
                i += 2
                if not buf:
                    seg_line = line
                continue
            buf.append(text[i : i + 2])
            i += 2
            continue
        if top == '"':
            if c == '"':
                stack.pop()
            elif c == "$" and text.startswith("$(", i):
                stack.append(")")
                buf.append("$(")
                i += 2
                continue
            elif c == "`":
                stack.append("`")
            elif c == "\n":
                line += 1
            buf.append(c)
            i += 1
            continue
        if top == "`":
            buf.append(c)
            if c == "`":
                stack.pop()
            elif c == "\n":
                line += 1
            i += 1
            continue
        # top level, or inside $( ... ) / ${ ... }
        if c in "'\"`":
            if not stack:
                open_line = line
            stack.append(c)
            buf.append(c)
            i += 1
            continue
        if c == "$" and i + 1 < n and text[i + 1] in "({":
            if not stack:
                open_line = line
            stack.append(")" if text[i + 1] == "(" else "}")
            buf.append(text[i : i + 2])
            i += 2
            continue
        if c in "<>" and i + 1 < n and text[i + 1] == "(":
            if not stack:
                open_line = line
            stack.append(")")
            buf.append(text[i : i + 2])
            i += 2
            continue
        if top in (")", "}"):
            if c == "(" and top == ")":
                stack.append(")")
            elif c == top:
                stack.pop()
            elif c == "\n":
                line += 1
            buf.append(c)
            i += 1
            continue
        # strictly top level from here
        if c == "#" and (not buf or buf[-1][-1:] in " \t;&|("):
            end = text.find("\n", i)
            end = n if end < 0 else end
            comments.append(Comment(line, text[i + 1 : end].strip()))
            i = end
            continue
        if c == "(" and buf and buf[-1].endswith("="):  # array literal a=( ... )
            stack.append(")")
            buf.append(c)
            i += 1
            continue
        if c == "<" and text.startswith("<<", i) and not text.startswith("<<<", i):
            m = _HEREDOC.match(text, i)
            if m:
                pending_heredocs.append((m.group(3), m.group(1) == "-"))
                buf.append(m.group(0))
                i = m.end()
                continue
        if c == "\n":
            flush("\n")
            line += 1
            seg_line = line
            i += 1
            while pending_heredocs:  # skip heredoc bodies
                delim, _strip = pending_heredocs.pop(0)
                while i < n:
                    end = text.find("\n", i)
                    end = n if end < 0 else end
                    body_line = text[i:end]
                    i = end + 1
                    line += 1
                    if body_line.strip() == delim:
                        break
                seg_line = line
            continue
        if c in ";&|":
            two = text[i : i + 2]
            prev = buf[-1][-1:] if buf else ""
            if c == "&" and (prev in "<>" or two == "&>"):
                buf.append(c)  # redirection such as 2>&1 or &>
                i += 1
                continue
            if c == "|" and prev == ">":
                buf.append(c)
                i += 1
                continue
            op = two if two in ("&&", "||", ";;") else c
            flush(op)
            i += len(op)
            continue
        buf.append(c)
        i += 1
    if stack:
        what = {"'": "single quote", '"': "double quote", ")": "'$(' or '('", "}": "'${'"}
        raise ShellSyntaxError(f"unterminated {what.get(stack[-1], stack[-1])}", open_line)
    flush("")
    return segments, comments
