"""YAML that people write (monitors specs, rules files), read within bounds: nesting and expanded size.

``yaml.safe_load`` refuses tags that run code, but not two other ways a small file
exhausts the process:

- anchors and aliases ("billion laughs"): nine lines of nine aliases each are a few
  hundred bytes that expand to 9**9 values once anything walks the document (the spec's
  line map, the stage substitution, validation): gigabytes, minutes;
- deep nesting (``[[[[...``): PyYAML composes recursively and raises ``RecursionError``,
  which ``except yaml.YAMLError`` does not catch.

``load`` refuses both with ``UnsafeYAML`` (a ``ValueError``) before anything walks the
document, and returns the node graph too, for line numbers.

>>> load("a: &x [1, 2]\\nb: *x")[1]
{'a': [1, 2], 'b': [1, 2]}
>>> load("a: &a [x, x]\\nb: &b [*a, *a]\\nc: [*b, *b]", max_nodes=10)
Traceback (most recent call last):
...
chalicelib.boundedyaml.UnsafeYAML: more than 10 values once its aliases (*name) are expanded
"""

from __future__ import annotations

MAX_NODES = 200_000  # a spec of hundreds of alarms and dashboards holds a few thousand


class UnsafeYAML(ValueError):
    """YAML that opswatch will not read (too deep, too large once aliases expand); the message says which."""


def expanded_size(node, limit: int) -> int:
    """How many nodes a walk of ``node`` visits, following every alias; stops counting past ``limit``.

    Iterative, and it stops at ``limit``, so an alias bomb costs ``limit`` steps, not its expansion.
    """
    import yaml

    count, stack = 0, [node]
    while stack and count <= limit:
        n = stack.pop()
        count += 1
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                stack.append(key)
                stack.append(value)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
    return count


def load(text: str, max_nodes: int = MAX_NODES):
    """(node, data) of a one-document YAML ``text``, safely constructed; ``(None, None)`` when empty.

    Raises ``yaml.YAMLError`` for bad YAML and ``UnsafeYAML`` for YAML too deep or too large.
    """
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        if expanded_size(node, max_nodes) > max_nodes:
            raise UnsafeYAML(f"more than {max_nodes:,} values once its aliases (*name) are expanded")
        return node, loader.construct_document(node)
    except RecursionError:
        raise UnsafeYAML("nested too deeply") from None
    finally:
        loader.dispose()
