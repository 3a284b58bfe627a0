"""Import a script under tools/ as a module (tools/ is not a package)."""
import importlib.util
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def import_tool(folder: str, name: str, register: bool = False):
    """``tools/{folder}/{name}.py`` as a module; ``register`` also puts it
    in ``sys.modules`` under ``name`` (a process pool pickles by name)."""
    spec = importlib.util.spec_from_file_location(
        name if register else f'_tool_{folder}_{name}',
        osp.join(REPO, 'tools', folder, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
