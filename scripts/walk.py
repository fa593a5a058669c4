"""Follow a function through the package's code, statically: which modules ("rooms") it
enters, and how often it climbs back to a higher floor.

    python scripts/walk.py captcha_break.train.train [--follow config] [--src src] [--show]

A module's floor is its height above what it imports (top-level imports within the
package; a leaf is floor 1). The walk starts at the function and follows, in source order,
every call it can resolve statically: a name imported from the package or defined in the
module, `module.name` for an imported module, `self.method`, `Class(...).method` and the
methods of a local name bound to `Class(...)`;
each function is expanded once. --follow NAME keeps to the calls that pass the
parameter NAME on (as itself, or as `x.NAME`; methods of an object that holds it reach it
too): the route of the training config through the code. Entering a module of a lower floor and coming back is a
climb back. The figures compare layouts of the same code (the house review's "walks"); they
are not a profile of what runs.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Module:
    name: str
    tree: ast.Module
    imports: dict[str, str] = field(default_factory=dict)  # local name -> "module" or "module:attr"
    deps: set[str] = field(default_factory=set)  # top-level imports within the package
    defs: dict[str, ast.AST] = field(default_factory=dict)  # "f", "Class", "Class.method"
    is_package: bool = False  # an __init__.py


def load(src: Path, package: str) -> dict[str, Module]:
    modules = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = Module(name, ast.parse(path.read_text(encoding="utf-8")))
        modules[name].is_package = parts[-1] == "__init__"
    for module in modules.values():
        _index(module, modules)
    return modules


def _absolute(module: Module, level: int, target: str | None) -> str:
    base = module.name.split(".")
    base = base if module.is_package else base[:-1]
    base = base[: len(base) - (level - 1)] if level else []
    return ".".join([*base, *([target] if target else [])])


def _index(module: Module, modules: dict[str, Module]) -> None:
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(module, node.level, node.module) if node.level else (node.module or "")
            for alias in node.names:
                local = alias.asname or alias.name
                if f"{source}.{alias.name}" in modules:
                    module.imports[local] = f"{source}.{alias.name}"
                elif source in modules:
                    module.imports[local] = f"{source}:{alias.name}"
                if node in module.tree.body and source in modules:
                    module.deps.add(source)
    for node in module.tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            module.defs[node.name] = node
        elif isinstance(node, ast.ClassDef):
            module.defs[node.name] = node
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    module.defs[f"{node.name}.{item.name}"] = item


def floors(modules: dict[str, Module]) -> dict[str, int]:
    height: dict[str, int] = {}

    def of(name: str, path: tuple[str, ...] = ()) -> int:
        if name in height:
            return height[name]
        deps = [d for d in modules[name].deps if d != name and d not in path]
        height[name] = 1 + max((of(d, (*path, name)) for d in deps), default=0)
        return height[name]

    for name in modules:
        of(name)
    return height


def resolve(modules: dict[str, Module], module: Module, name: str) -> tuple[str, str] | None:
    """(module, definition) that `name` means in `module`, following re-exports."""
    for _ in range(5):
        if name in module.defs:
            return module.name, name
        target = module.imports.get(name.split(".")[0])
        if target is None or ":" not in target:
            return None
        source, attr = target.split(":")
        module, name = modules[source], attr + name[len(name.split(".")[0]) :]
    return None


def callees(modules: dict[str, Module], module: Module, qualname: str) -> list[tuple[str, str]]:
    node, cls = module.defs[qualname], qualname.split(".")[0] if "." in qualname else None
    # Local names bound to an instance (`loop = Loop(...)`): their method calls resolve too.
    instances = {}
    for assign in (n for n in ast.walk(node) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)):
        if isinstance(assign.value.func, ast.Name) and len(assign.targets) == 1 and isinstance(assign.targets[0], ast.Name):
            instances[assign.targets[0].id] = assign.value.func
    found = []
    for call in sorted((n for n in ast.walk(node) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset)):
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in instances:
            func = ast.Attribute(value=ast.Call(func=instances[func.value.id], args=[], keywords=[]), attr=func.attr)
        target = _target(modules, module, cls, func)
        if target and target[1] in modules[target[0]].defs:
            found.append((*target, call, isinstance(func, ast.Attribute) and _is_self(func.value)))
    return found


def _is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _carries(node: ast.AST, names: set[str], origin: str) -> bool:
    """Whether an argument passes the followed value on: a name that holds it, or `x.ORIGIN`
    (an object's copy of it, `self.config`, `plan.config`)."""
    return (isinstance(node, ast.Name) and node.id in names) or (isinstance(node, ast.Attribute) and node.attr == origin)


def holders(node: ast.AST, name: str, origin: str) -> set[str]:
    """`name` and the local names bound to what is built from it (`plan = RunPlan(config, ...)`)."""
    names = {name, origin}
    assigns = [n for n in ast.walk(node) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)]
    for _ in range(3):
        for assign in assigns:
            args = [*assign.value.args, *(k.value for k in assign.value.keywords)]
            if any(_carries(a, names, origin) for a in args):
                names |= {t.id for t in assign.targets if isinstance(t, ast.Name)}
    return names


def received_as(modules: dict[str, Module], target: tuple[str, str], call: ast.Call, names: set[str], origin: str) -> str | None:
    """The name the callee knows the followed value by, or None if this call does not pass it."""
    func = call.func
    if isinstance(func, ast.Attribute):
        owner = func.value.func if isinstance(func.value, ast.Call) else func.value
        built = isinstance(func.value, ast.Call) and any(_carries(a, names, origin) for a in func.value.args)
        if _is_self(func.value) or (isinstance(owner, ast.Name) and owner.id in names) or built:
            return origin  # an object that holds it: its methods reach it as self.ORIGIN
    node = modules[target[0]].defs[target[1]]
    params = [a.arg for a in node.args.posonlyargs + node.args.args]
    if "." in target[1] and params[:1] == ["self"]:
        params = params[1:]
    for i, arg in enumerate(call.args):
        if _carries(arg, names, origin) and i < len(params):
            return params[i]
    for keyword in call.keywords:
        if keyword.arg and _carries(keyword.value, names, origin):
            return keyword.arg
    return None


def _target(modules, module: Module, cls: str | None, func: ast.AST) -> tuple[str, str] | None:
    if isinstance(func, ast.Name):
        hit = resolve(modules, module, func.id)
        if hit and isinstance(modules[hit[0]].defs[hit[1]], ast.ClassDef):
            init = f"{hit[1]}.__init__"
            return (hit[0], init) if init in modules[hit[0]].defs else None
        return hit
    if not isinstance(func, ast.Attribute):
        return None
    value = func.value
    if isinstance(value, ast.Name) and value.id == "self" and cls:
        return module.name, f"{cls}.{func.attr}"
    if isinstance(value, ast.Name) and module.imports.get(value.id, "").count(":") == 0 and value.id in module.imports:
        target = modules.get(module.imports[value.id])
        return resolve(modules, target, func.attr) if target else None
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        hit = resolve(modules, module, value.func.id)
        if hit and isinstance(modules[hit[0]].defs[hit[1]], ast.ClassDef):
            return hit[0], f"{hit[1]}.{func.attr}"
    return None


def walk(modules: dict[str, Module], start: tuple[str, str], follow: str | None = None) -> dict:
    height = floors(modules)
    seen: set[tuple[str, str]] = set()
    rooms: list[str] = []
    counts = {"entries": 0, "climbs_back": 0}
    steps: list[tuple[str, str, bool]] = []  # (from function, into function, a climb back)

    def visit(where: tuple[str, str], name: str | None) -> None:
        seen.add(where)
        if where[0] not in rooms:
            rooms.append(where[0])
        held = holders(modules[where[0]].defs[where[1]], name, follow) if name else set()
        for module, qualname, call, _ in callees(modules, modules[where[0]], where[1]):
            target = (module, qualname)
            passed = received_as(modules, target, call, held, follow) if name else None
            if target in seen or (name and passed is None):
                continue
            if target[0] != where[0]:
                counts["entries"] += 1
                counts["climbs_back"] += height[target[0]] < height[where[0]]
                steps.append((".".join(where), ".".join(target), height[target[0]] < height[where[0]]))
            visit(target, passed)

    visit(start, follow)
    return {"rooms": rooms, "functions": len(seen), **counts, "floors": {r: height[r] for r in rooms}, "steps": steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("function", help="dotted path: a module (or package) and a function in it")
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    parser.add_argument("--show", action="store_true", help="list the rooms with their floors, and each entry into a room")
    parser.add_argument("--follow", metavar="NAME", help="only the calls that pass this parameter on (e.g. config)")
    args = parser.parse_args()
    module_name, _, function = args.function.rpartition(".")
    modules = load(args.src, module_name.split(".")[0])
    hit = resolve(modules, modules[module_name], function)
    if hit is None:
        sys.exit(f"no function {function} in {module_name}")
    result = walk(modules, hit, args.follow)
    print(
        f"{args.function}: {len(result['rooms'])} rooms, {result['functions']} functions, "
        f"{result['entries']} entries into another room, {result['climbs_back']} climbs back to a higher floor"
    )
    if args.show:
        for room in result["rooms"]:
            print(f"  floor {result['floors'][room]:>2}  {room}")
        for caller, callee, down in result["steps"]:
            print(f"  {caller} -> {callee}" + ("  (then climbs back)" if down else ""))


if __name__ == "__main__":
    main()
