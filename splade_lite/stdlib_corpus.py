"""A corpus with no download: the docstrings of this interpreter's standard library.

Read from the source files with :mod:`ast` (importing stdlib modules would run their side
effects: ``antigravity`` opens a browser, ``this`` prints a poem). Only a short fixed list of
compiled modules (``builtins``, ``math``, ``time``, ``itertools``), which have no source to
parse and no side effects, is imported to read their docstrings. The demo indexes it.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import sysconfig
import types
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from splade_lite.errors import BadValueError

#: Bump when the corpus builder changes what it produces, so cached demo indexes are rebuilt.
CORPUS_VERSION = 1
MIN_TEXT_CHARS = 40
TARGET_TEXT_CHARS = 200
MAX_TEXT_CHARS = 600
MAX_SIGNATURE_PARAMS = 5

# Folders of the standard library that are tests, tools, vendored code or platform data,
# rather than the library itself.
_SKIP_DIRS = frozenset(
    {
        "__pycache__",
        "distutils",
        "encodings",
        "ensurepip",
        "idlelib",
        "lib-dynload",
        "lib2to3",
        "pydoc_data",
        "site-packages",
        "dist-packages",
        "test",
        "tests",
        "tkinter",
        "turtledemo",
    }
)
# Modules that only duplicate another one (Windows paths), are jokes, or are deprecated and
# removed from newer Pythons (PEP 594).
_SKIP_MODULES = frozenset(
    {
        "antigravity",
        "ntpath",
        "nturl2path",
        "this",
        *("aifc", "asynchat", "asyncore", "cgi", "cgitb", "chunk", "crypt", "imghdr", "imp"),
        *("mailcap", "msilib", "nntplib", "pipes", "smtpd", "sndhdr", "sunau", "telnetlib"),
        *("uu", "xdrlib"),
    }
)
# Modules known to users by the name they are imported under.
_MODULE_ALIASES = {"genericpath": "os.path", "posixpath": "os.path"}
# Modules whose own docstring says not to use them directly (their functions still count).
_NO_MODULE_DOC = frozenset({"genericpath"})
# Compiled modules: no source to parse, no side effects on import. Their members are read
# from the live objects.
COMPILED_MODULES = ("builtins", "itertools", "math", "time")
# Tiers of the selection: whole modules first, then the top-level API, then methods.
_MODULE, _TOP_LEVEL, _METHOD = 0, 1, 2


@dataclass(frozen=True)
class DemoDoc:
    """One document of the demo corpus: a module, class or function and its docstring."""

    id: str
    title: str
    text: str
    tier: int = _TOP_LEVEL
    # the whole docstring, whitespace collapsed: what tells a copy from a different document
    # whose summary happens to be the same (str.split and str.rsplit)
    fingerprint: str = field(default="", compare=False, repr=False)

    def record(self) -> dict[str, str]:
        """The corpus.jsonl record (BEIR-like)."""
        return {"_id": self.id, "title": self.title, "text": self.text}


# --------------------------------------------------------------------------------------------
# The corpus


def stdlib_dir() -> Path:
    """The folder of this interpreter's pure-Python standard library."""
    return Path(sysconfig.get_paths()["stdlib"])


def build_stdlib_corpus(
    max_docs: int = 2000,
    root: Path | None = None,
    compiled_modules: Sequence[str] = COMPILED_MODULES,
) -> list[DemoDoc]:
    """Docstrings of the standard library as documents, at most `max_docs`, sorted by id.

    `root` is the library's source folder (default: this interpreter's); `compiled_modules`
    the compiled modules whose members are read from their objects. Deterministic for a given
    Python installation. When there are more candidates than `max_docs`, module docstrings are
    taken first, then top-level functions and classes (and the built-in types' methods), then
    other methods; the tier that does not fit whole is sampled evenly across its sorted ids,
    so that every part of the library is represented, not only the first modules by name.
    """
    if max_docs < 1:
        raise BadValueError(f"max_docs must be at least 1, got {max_docs}")
    candidates = _dedupe([*_source_docs(root or stdlib_dir()), *_compiled_docs(compiled_modules)])
    chosen: list[DemoDoc] = []
    for tier in (_MODULE, _TOP_LEVEL, _METHOD):
        room = max_docs - len(chosen)
        if room <= 0:
            break
        docs = sorted((d for d in candidates if d.tier == tier), key=lambda d: d.id)
        chosen.extend(_spread(docs, room))
    return sorted(chosen, key=lambda d: d.id)


def write_corpus(docs: Iterable[DemoDoc], path: Path) -> int:
    """Write `docs` as JSON lines ``{"_id", "title", "text"}``, atomically; return the count."""
    from splade_lite.atomic import atomic_write

    count = 0
    with atomic_write(path) as handle:
        for doc in docs:
            handle.write(json.dumps(doc.record(), ensure_ascii=False) + "\n")
            count += 1
    return count


def _spread(items: Sequence[DemoDoc], k: int) -> list[DemoDoc]:
    """`k` items evenly spaced over `items` (all of them when they fit)."""
    n = len(items)
    if k >= n:
        return list(items)
    return [items[i * n // k] for i in range(k)]


def _dedupe(docs: Iterable[DemoDoc]) -> list[DemoDoc]:
    """Drop repeated ids and copied docstrings (keeping the first by tier and id)."""
    seen_ids: set[str] = set()
    seen_texts: set[str] = set()
    kept = []
    for doc in sorted(docs, key=lambda d: (d.tier, d.id)):
        if doc.id in seen_ids or doc.fingerprint in seen_texts:
            continue
        seen_ids.add(doc.id)
        seen_texts.add(doc.fingerprint)
        kept.append(doc)
    return kept


def _module_files(root: Path) -> Iterator[tuple[str, Path]]:
    """``(module name, file)`` of the public pure-Python stdlib modules, in sorted order."""
    for folder, dirnames, filenames in os.walk(root):
        # pruning in place keeps os.walk out of tests, site-packages and private packages
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in _SKIP_DIRS and not d.startswith(("_", ".", "config-")) and d.isidentifier()
        )
        rel = Path(folder).relative_to(root).parts
        if rel and not (Path(folder) / "__init__.py").is_file():
            continue  # not a package (a data folder)
        for name in sorted(filenames):
            stem = name[:-3]
            if not name.endswith(".py") or not stem.isidentifier():
                continue
            if stem == "__init__":
                parts = rel
            elif stem.startswith("_"):
                continue
            else:
                parts = (*rel, stem)
            if not parts or parts[-1] in _SKIP_MODULES:
                continue
            yield ".".join(parts), Path(folder) / name


def _source_docs(root: Path) -> Iterator[DemoDoc]:
    for module, path in _module_files(root):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # invalid escapes in old sources warn
                tree = ast.parse(path.read_bytes(), filename=str(path))
        except (OSError, SyntaxError, ValueError):
            continue
        yield from _docs_of_tree(
            _MODULE_ALIASES.get(module, module), tree, module not in _NO_MODULE_DOC
        )


def _docs_of_tree(module: str, tree: ast.Module, module_doc: bool = True) -> Iterator[DemoDoc]:
    """Module, public top-level functions and classes, and public methods of one module.

    Names left out of a module's ``__all__`` drop to the methods' tier. A name in ``__all__``
    bound to a method of a module-level instance (``randint = _inst.randint`` in ``random``)
    is documented by that method, under the name users call it by.
    """
    doc = _make_doc(module, module, ast.get_docstring(tree), _MODULE) if module_doc else None
    if doc:
        yield doc
    exported = _all_names(tree)
    methods: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if not _public(node.name):
            continue
        name = f"{module}.{node.name}"
        tier = _TOP_LEVEL if exported is None or node.name in exported else _METHOD
        if not isinstance(node, ast.ClassDef):
            title = name + _ast_signature(node.args, method=False)
            doc = _make_doc(name, title, ast.get_docstring(node), tier)
            if doc:
                yield doc
            continue
        doc = _make_doc(name, name, ast.get_docstring(node), tier)
        if doc:
            yield doc
        for sub in node.body:
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and _public(sub.name):
                methods.setdefault(sub.name, sub)
                method = f"{name}.{sub.name}"
                title = method + _ast_signature(sub.args, method=True)
                doc = _make_doc(method, title, ast.get_docstring(sub), _METHOD)
                if doc:
                    yield doc
    for alias in sorted(_bound_method_aliases(tree) & (exported or set())):
        if alias in methods:
            sub = methods[alias]
            name = f"{module}.{alias}"
            title = name + _ast_signature(sub.args, method=True)
            doc = _make_doc(name, title, ast.get_docstring(sub), _TOP_LEVEL)
            if doc:
                yield doc


def _all_names(tree: ast.Module) -> set[str] | None:
    """The literal ``__all__`` of a module; None when it has none or builds it at run time."""
    names: set[str] | None = None
    for node in tree.body:
        if _is_all_call(node):  # __all__.extend([...]) / __all__.append("name")
            call = node.value
            try:
                value = ast.literal_eval(call.args[0]) if len(call.args) == 1 else None
            except ValueError:
                return None
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, (list, tuple)) or names is None:
                return None
            names |= {v for v in value if isinstance(v, str)}
            continue
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        else:
            continue
        if not any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            continue
        try:
            value = ast.literal_eval(node.value) if node.value is not None else None
        except ValueError:
            return None
        if not isinstance(value, (list, tuple)):
            return None
        strings = {v for v in value if isinstance(v, str)}
        names = (names or set()) | strings if isinstance(node, ast.AugAssign) else strings
    return names


def _is_all_call(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr in ("append", "extend")
        and isinstance(node.value.func.value, ast.Name)
        and node.value.func.value.id == "__all__"
    )


def _bound_method_aliases(tree: ast.Module) -> set[str]:
    """Top-level ``name = something.name`` bindings (a module exposing an instance's methods)."""
    aliases = set()
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == node.targets[0].id
        ):
            aliases.add(node.targets[0].id)
    return aliases


def _public(name: str) -> bool:
    return not name.startswith("_")


def _ast_signature(args: ast.arguments, method: bool) -> str:
    """``(a, b, *, c, …)``: parameter names only, defaults left out to keep titles short."""
    positional = [a.arg for a in [*args.posonlyargs, *args.args]]
    if method and positional and positional[0] in ("self", "cls"):
        positional = positional[1:]
    names = positional
    if args.vararg:
        names.append("*" + args.vararg.arg)
    elif args.kwonlyargs:
        names.append("*")
    names.extend(a.arg for a in args.kwonlyargs)
    if args.kwarg:
        names.append("**" + args.kwarg.arg)
    return _format_params(names)


def _format_params(names: list[str]) -> str:
    if len(names) > MAX_SIGNATURE_PARAMS:
        names = [*names[:MAX_SIGNATURE_PARAMS], "..."]
    return "(" + ", ".join(names) + ")"


def _compiled_docs(modules: Iterable[str]) -> Iterator[DemoDoc]:
    """Docstrings of compiled modules, read from their objects since they have no source."""
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        # builtins are known by their bare names: len, str.split
        prefix = "" if module_name == "builtins" else module_name + "."
        doc = _make_doc(module_name, module_name, _clean_c_doc(module.__doc__)[1], _MODULE)
        if doc and module_name != "builtins":
            yield doc
        for name, obj in sorted(vars(module).items()):
            # functions and classes only: builtins also holds the site module's helper objects
            if not _public(name) or not isinstance(obj, (type, types.BuiltinFunctionType)):
                continue
            if module_name != "builtins" and getattr(obj, "__module__", None) != module_name:
                continue  # re-exported from another module, which documents it
            yield from _object_docs(prefix + name, obj, _TOP_LEVEL)
            if isinstance(obj, type):
                # methods of the built-in types (str.split, dict.get) are everyday API
                tier = _TOP_LEVEL if module_name == "builtins" else _METHOD
                for attr, member in sorted(vars(obj).items()):
                    if _public(attr) and callable(member):
                        yield from _object_docs(f"{prefix}{name}.{attr}", member, tier)


def _object_docs(name: str, obj: object, tier: int) -> Iterator[DemoDoc]:
    raw = getattr(obj, "__doc__", None)
    if not isinstance(raw, str):
        return
    signature, text = _clean_c_doc(raw)
    if not signature:
        signature = _text_signature(getattr(obj, "__text_signature__", None))
    if isinstance(obj, type):
        signature = ""  # a class is shown by its name, as for source classes
    doc = _make_doc(name, name + signature, text, tier)
    if doc:
        yield doc


_SIGNATURE_LINE = re.compile(r"^[A-Za-z_][\w.]*\((.*?)\)")


def _clean_c_doc(raw: str | None) -> tuple[str, str]:
    """Split a C docstring into ``(signature, text)``; old-style ones open with ``f(x) -> y``."""
    if not raw:
        return "", ""
    lines = raw.strip().splitlines()
    head = _SIGNATURE_LINE.match(lines[0]) if lines else None
    if not head:
        return "", raw
    # skip the block of signature lines that ends at the first blank line
    end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    params = [p.split("=")[0].strip(" ]") for p in head.group(1).replace("[", "").split(",")]
    return _format_params(_param_names(params)), "\n".join(lines[end:])


def _text_signature(text: str | None) -> str:
    """``(sep, maxsplit)`` from a ``__text_signature__`` like ``($self, /, sep=None, …)``."""
    if not text or not text.startswith("("):
        return ""
    params = [p.split("=")[0].strip() for p in text.strip("()").split(",")]
    return _format_params(_param_names(params))


def _param_names(params: Iterable[str]) -> list[str]:
    """Keep real parameter names (``*``, ``*args``, ``x``), not ``/``, ``$self`` or the pieces
    of a default value that held a comma."""
    return [p for p in params if p == "*" or p.lstrip("*").isidentifier()]


def _make_doc(doc_id: str, title: str, docstring: str | None, tier: int) -> DemoDoc | None:
    docstring = docstring or ""
    head = _SIGNATURE_LINE.match(docstring)
    if head and head.group(0).split("(")[0].split(".")[-1] == doc_id.split(".")[-1]:
        # an old-style docstring that opens by repeating the signature: the title has it
        docstring = _clean_c_doc(docstring)[1]
    text = _summarise(docstring)
    if len(text) < MIN_TEXT_CHARS:
        return None
    return DemoDoc(doc_id, title, text, tier, fingerprint=" ".join(docstring.split()))


def _summarise(docstring: str) -> str:
    """The opening paragraphs of a docstring on one line: up to ~200 characters when the
    paragraphs allow it, never more than 600 (the encoder reads 128 tokens anyway)."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", docstring)]
    text = ""
    for paragraph in paragraphs:
        if not paragraph:
            continue
        if text and len(text) + 1 + len(paragraph) > MAX_TEXT_CHARS:
            break
        text = f"{text} {paragraph}" if text else paragraph
        if len(text) >= TARGET_TEXT_CHARS:
            break
    if len(text) > MAX_TEXT_CHARS:
        cut = text.rfind(" ", 0, MAX_TEXT_CHARS)
        text = text[: cut if cut > 0 else MAX_TEXT_CHARS]
    return text


# --------------------------------------------------------------------------------------------
# Explaining a SPLADE hit
