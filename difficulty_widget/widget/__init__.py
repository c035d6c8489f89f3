"""The JupyterLab widget: the Explorer (anywidget) and the Altair chart builders it uses. No math here."""

from .charts import DATA_NAME, instances
from .explorer import Explorer, ExplorerTypeError, ExplorerValueError

__all__ = ["DATA_NAME", "Explorer", "ExplorerTypeError", "ExplorerValueError", "instances"]
