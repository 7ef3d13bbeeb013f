# Copyright 2026 pose_reloc authors
# SPDX-License-Identifier: Apache-2.0
"""The ``model.adversarial`` section of ``--method apr`` (adversarial pose regression).

Kept apart from :mod:`pose_reloc.training.adversarial` so that ``training.apr`` can name the
dataclass without importing the trainer (which imports ``training.apr``).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class AdversarialConfig:
    """Pose discriminator, its game with the regressor, and the bundle's refinement default.

    Chen et al., "Adversarial Networks for Camera Pose Regression and Refinement" (ICCVW
    2019): ``L_D = BCE(D(f, p_gt), 1) + BCE(D(f, p_hat), 0)``; the regressor minimizes
    ``L_G = L_pose + lambda_adv * BCE(D(f, p_hat), 1)`` after ``warmup_epochs`` of
    ``L_pose`` alone (the discriminator learns from the start); the two alternate every step.

    Attributes:
        lambda_adv: weight of the adversarial term (paper 1e-3).
        warmup_epochs: epochs of ``L_pose`` alone before the adversarial term.
        backbone: frozen ImageNet encoder of the image features (paper: ResNet-18; this CPU:
            ``efficientnet_lite0``); ``''`` = pose-only discriminator (the ablation).
        pretrained: its weights (``imagenet``).
        length: size of the features after the frozen bias-free linear map (the pose is
            repeated to this size).
        channels: width of the discriminator's three convolutions.
        rotation: the discriminator's pose rotation, ``quat`` or ``logq``.
        lr: the discriminator's learning rate (0 = ``optim.lr``).
        noise_translation: not in the paper: also show D the true pose moved by Gaussian
            noise of this standard deviation (normalized translation units) as a regressed
            one (0 = off, the paper). Once the regressor fits its training images, their
            regressed poses equal the true ones and D has nothing to tell apart; perturbed
            true poses keep teaching it what a wrong pose for the image looks like.
        noise_rotation_deg: the rotation noise of those negatives (degrees, about a random
            axis; 0 = no rotation noise).
        refine_iterations: the bundle's default test-time refinement steps (0 = off), also
            used when the covariance is calibrated after training.
        refine_step: the default refinement step size (paper 1e-3).
        refine_max_translation_m: the refinement trust region, metres.
        refine_max_rotation_deg: the refinement trust region, degrees.
    """

    lambda_adv: float = 1e-3
    warmup_epochs: int = 5
    backbone: str = 'efficientnet_lite0'
    pretrained: str = 'imagenet'
    length: int = 64
    channels: int = 32
    rotation: str = 'quat'
    lr: float = 0.0
    noise_translation: float = 0.0
    noise_rotation_deg: float = 0.0
    refine_iterations: int = 30
    refine_step: float = 1e-3
    refine_max_translation_m: float = 0.5
    refine_max_rotation_deg: float = 10.0

    def __post_init__(self):
        """Validate.

        Raises:
            ValueError: naming the field.
        """
        if min(self.lambda_adv, self.warmup_epochs, self.lr, self.noise_translation,
               self.noise_rotation_deg) < 0:
            raise ValueError('adversarial lambda_adv, warmup_epochs, lr and the noise must be '
                             '>= 0')
        if self.rotation not in ('quat', 'logq'):
            raise ValueError(f'adversarial.rotation must be quat or logq, got {self.rotation!r}')
        if self.refine_iterations < 0 or not self.refine_step > 0:
            raise ValueError('adversarial.refine_iterations must be >= 0 and refine_step > 0')
