# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The shared training loop: several optimizers, schedulers, exact resume, frozen modules."""

import csv

import pytest
import torch
from torch import nn

from pose_reloc.training.config import load_preset
from pose_reloc.training.loop import fit_multi, make_optimizer, make_scheduler, TrainState

torch.set_num_threads(1)


def _cfg(epochs=4, **optim):
    overrides = [f'optim.epochs={epochs}', 'optim.lr=0.05', 'optim.lr_decay_epochs=2',
                 'optim.lr_decay=0.5', 'run.progress=false', 'run.device=cpu']
    overrides += [f'optim.{k}={v}' for k, v in optim.items()]
    return load_preset('posenet-cpu', overrides, method='apr')


def _toy_state(seed=0):
    """Build a toy adversarial pair: G maps noise to points, D tells them from N(2, 1)."""
    torch.manual_seed(seed)
    gen, disc = nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    cfg = _cfg()
    opt_d = make_optimizer(disc.parameters(), cfg.optim)
    opt_g = make_optimizer(gen.parameters(), cfg.optim, lr=0.02)
    return TrainState(modules={'generator': gen, 'discriminator': disc},
                      optimizers={'discriminator': opt_d, 'generator': opt_g},
                      schedulers={'generator': make_scheduler(opt_g, cfg.optim)},
                      generators={'noise': torch.Generator().manual_seed(seed)},
                      extra={'lambda_adv': 1.0})


def _batches():
    return [torch.randn(16, 2, generator=torch.Generator().manual_seed(i)) + 2.0
            for i in range(5)]


def _step(batch, ctx):
    gen, disc = ctx.modules['generator'], ctx.modules['discriminator']
    noise = torch.randn(batch.shape, generator=ctx.state.generators['noise'])
    bce = nn.functional.binary_cross_entropy_with_logits
    fake = gen(noise)
    real_logit, fake_logit = disc(batch), disc(fake.detach())
    loss_d = bce(real_logit, torch.ones_like(real_logit)) + \
        bce(fake_logit, torch.zeros_like(fake_logit))
    ctx.update('discriminator', loss_d)
    with ctx.frozen('discriminator'):
        logit = disc(fake)
        loss_g = ctx.state.extra['lambda_adv'] * bce(logit, torch.ones_like(logit))
        ctx.update('generator', loss_g)
    ctx.state.extra['lambda_adv'] *= 0.9
    return {'loss': float(loss_g.detach()), 'loss_d': float(loss_d.detach())}


def _flat(state):
    tensors = [t.detach().reshape(-1) for m in state.modules.values()
               for t in m.state_dict().values()]
    return torch.cat(tensors)


def test_two_optimizers_log_and_schedule(tmp_path):
    """Smoke: both losses are logged per epoch; StepLR halves the generator's rate every 2."""
    state = _toy_state()
    result = fit_multi(state, _batches(), _step, _cfg(), tmp_path)
    assert result.epochs_completed == 4
    rows = list(csv.DictReader(open(tmp_path / 'log.csv')))
    assert [int(r['epoch']) for r in rows] == [1, 2, 3, 4]
    assert all('train_loss_d' in r and 'train_loss' in r for r in rows)
    assert state.optimizers['generator'].param_groups[0]['lr'] == pytest.approx(0.02 * 0.25)
    assert state.optimizers['discriminator'].param_groups[0]['lr'] == pytest.approx(0.05)


def test_frozen_module_gets_no_gradient_from_the_generator_step(tmp_path):
    """Inside ctx.frozen('discriminator') the generator's backward leaves D's grads alone."""
    seen = {}

    def step(batch, ctx):
        disc = ctx.modules['discriminator']
        ctx.update('discriminator', disc(batch).square().mean())
        before = [p.grad.clone() for p in disc.parameters()]
        with ctx.frozen('discriminator'):
            ctx.update('generator', disc(ctx.modules['generator'](batch)).mean())
        after = [p.grad for p in disc.parameters()]
        seen['same'] = all(torch.equal(a, b) for a, b in zip(before, after))
        seen['restored'] = all(p.requires_grad for p in disc.parameters())
        ctx.update('discriminator', disc(ctx.modules['generator'](batch)).mean())
        seen['unfrozen_changes'] = not all(
            torch.equal(a, b) for a, b in zip(before, [p.grad for p in disc.parameters()]))
        return {}

    fit_multi(_toy_state(), _batches()[:1], step, _cfg(epochs=1), tmp_path)
    assert seen == {'same': True, 'restored': True, 'unfrozen_changes': True}


def test_resume_restores_every_module_optimizer_scheduler_generator_and_weight(tmp_path):
    """Known values: 2 epochs + resume to 4 equals 4 epochs straight, bit for bit."""
    straight = _toy_state()
    fit_multi(straight, _batches(), _step, _cfg(4), tmp_path / 'a')
    first = _toy_state()
    fit_multi(first, _batches(), _step, _cfg(2), tmp_path / 'b')
    resumed = _toy_state(seed=5)  # different init: everything must come from the checkpoint
    fit_multi(resumed, _batches(), _step, _cfg(4), tmp_path / 'b', resume=True)
    assert torch.equal(_flat(straight), _flat(resumed))
    assert resumed.extra['lambda_adv'] == pytest.approx(straight.extra['lambda_adv'])
    assert torch.equal(resumed.generators['noise'].get_state(),
                       straight.generators['noise'].get_state())
    for name in ('generator', 'discriminator'):
        assert resumed.optimizers[name].param_groups[0]['lr'] == \
            straight.optimizers[name].param_groups[0]['lr']


def test_resume_refuses_a_checkpoint_with_other_optimizers(tmp_path):
    """Bad input: a checkpoint of another optimizer set is refused, naming both."""
    fit_multi(_toy_state(), _batches(), _step, _cfg(1), tmp_path)
    other = _toy_state()
    other.optimizers['extra'] = other.optimizers.pop('generator')
    with pytest.raises(ValueError, match="optimizers.*'discriminator', 'extra'"):
        fit_multi(other, _batches(), _step, _cfg(2), tmp_path, resume=True)


def test_update_names_unknown_optimizer_and_non_finite_loss(tmp_path):
    """Bad input: an unknown optimizer name and a NaN loss end in one clear error."""
    def unknown(batch, ctx):
        ctx.update('critic', ctx.modules['generator'](batch).sum())
        return {}

    with pytest.raises(KeyError, match='critic.*discriminator'):
        fit_multi(_toy_state(), _batches(), unknown, _cfg(1), tmp_path / 'a')

    def nan(batch, ctx):
        ctx.update('generator', ctx.modules['generator'](batch).sum() * float('nan'))
        return {}

    with pytest.raises(ValueError, match="'generator' became nan at epoch 1, step 0"):
        fit_multi(_toy_state(), _batches(), nan, _cfg(1), tmp_path / 'b')
