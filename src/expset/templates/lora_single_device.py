"""torchtune's LoRA recipe for one device, as expset runs it: written beside each single-device run.

It is torchtune 0.6.1's own recipe, loaded from the installed file and unchanged, with two additions:

- A run resumed from a saved epoch (``resume_from_checkpoint=True``) goes on with the step count and
  learning-rate schedule where they were. torchtune 0.6.1 restores them only when ``max_steps_per_epoch``
  cuts the epoch short; otherwise the resumed run logs from step 1 and warms up again from zero.
- With ``dataset_val`` in the config, every ``run_val_every_n_steps`` optimizer steps it computes the mean
  loss over that data (the model in evaluation mode, no gradients) and logs it as ``val_loss`` beside the
  training loss, so it lands in the run's training log (torchtune 0.6.1's LoRA recipes have no
  validation loop). Validation happens at logged steps, so ``log_every_n_steps`` should divide the interval.

Run it as a script: ``python THIS_FILE --config finetune.yaml``.
"""

import importlib.util
import sys
from pathlib import Path

import torch
from torchtune import config, utils

_recipes = importlib.util.find_spec("recipes")  # torchtune's recipes folder; importing it is refused on purpose
if _recipes is None or not _recipes.submodule_search_locations:
    sys.exit("expset: torchtune's recipes are not installed beside torchtune")
_source = Path(_recipes.submodule_search_locations[0]) / "lora_finetune_single_device.py"
_spec = importlib.util.spec_from_file_location("torchtune_lora_finetune_single_device", _source)
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)


class _ValidatingLogger:
    """The recipe's metric logger, which also logs the validation loss at every interval's step."""

    def __init__(self, logger, recipe, every_n_steps):
        self._logger, self._recipe, self._every = logger, recipe, every_n_steps

    def log_dict(self, payload, step):
        self._logger.log_dict(payload, step=step)
        if step % self._every == 0:
            self._logger.log_dict({"val_loss": self._recipe.validation_loss()}, step=step)

    def __getattr__(self, name):
        return getattr(self._logger, name)


class LoRAFinetuneRecipeExpset(_module.LoRAFinetuneRecipeSingleDevice):
    """The single-device LoRA recipe, resumed where it stopped, with a validation loss when configured."""

    def setup(self, cfg):
        super().setup(cfg)
        resumed_at = self.epochs_run * self._steps_per_epoch
        if self._resume_from_checkpoint and self.global_step != resumed_at:
            self.global_step = resumed_at
            self._lr_scheduler = self._setup_lr_scheduler(
                cfg_lr_scheduler=cfg.lr_scheduler,
                num_training_steps=self.total_epochs * self._steps_per_epoch,
                last_epoch=self.global_step - 1,
            )
        if cfg.get("dataset_val") is None:
            return
        collate = cfg.get("collate_fn", "torchtune.data.padded_collate_sft")
        arguments = {"cfg_dataset": cfg.dataset_val, "shuffle": False, "collate_fn": collate}
        self._validation = self._setup_data(batch_size=cfg.batch_size, **arguments)
        if len(self._validation) == 0:  # fewer samples than a batch: the loader drops partial batches
            self._validation = self._setup_data(batch_size=1, **arguments)
        self._metric_logger = _ValidatingLogger(self._metric_logger, self, cfg.run_val_every_n_steps)

    def validation_loss(self):
        """The mean loss over the validation data's batches, the model's training state left as it was."""
        self._model.eval()
        total, batches = 0.0, 0
        with torch.no_grad():
            for batch in self._validation:
                utils.batch_to_device(batch, self._device)
                total += self._loss_step(batch).item()
                batches += 1
        self._model.train()
        return total / max(batches, 1)


@config.parse
def recipe_main(cfg):
    config.log_config(recipe_name="LoRAFinetuneRecipeExpset", cfg=cfg)
    recipe = LoRAFinetuneRecipeExpset(cfg=cfg)
    recipe.setup(cfg=cfg)
    recipe.train()
    recipe.cleanup()


if __name__ == "__main__":
    sys.exit(recipe_main())
