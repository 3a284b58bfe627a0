"""Hand the model to metrics that need it (e.g. VTM re-ranking)."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ...registry import HOOKS


@HOOKS.register_module()
class MetricModelHook(Hook):
    """Before validation and testing, call ``metric.bind_model(model)`` on
    every metric with ``requires_model = True`` (the unwrapped model: the
    metric runs it on rank 0 after collecting the predictions)."""

    priority = 'LOW'

    def _bind(self, runner, evaluator) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        for metric in getattr(evaluator, 'metrics', []):
            if getattr(metric, 'requires_model', False):
                metric.bind_model(model)

    def before_val(self, runner) -> None:
        self._bind(runner, runner.val_evaluator)

    def before_test(self, runner) -> None:
        self._bind(runner, runner.test_evaluator)
