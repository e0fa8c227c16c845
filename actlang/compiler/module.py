"""``ActivationModule``: the ``nn.Module`` that :func:`actlang.compile` returns.

Each compiled expression gets a subclass (one per cached program) whose ``plain_forward`` is the
generated straight-line code. ``forward`` picks the path:

- TorchScript, ``torch.compile``/``torch.export`` tracing, inference (no grad needed), and
  ``memory_efficient=False``: ``plain_forward`` — autograd records each kernel as usual;
- training otherwise, for pointwise expressions: the fused autograd function (see
  :mod:`actlang.compiler.fused`), which saves f'(x) instead of every intermediate.
"""

from __future__ import annotations

import importlib

import torch
from torch import nn

from actlang.ast import Expr, with_inits
from actlang.errors import ActlangError, UnsupportedError


class ActivationModule(nn.Module):
    """A compiled activation; ``code`` shows its generated forward, ``expression`` its source."""

    # ``program`` (the compiled Program) is a class attribute of each generated subclass; it is
    # not annotated here so that TorchScript does not take it for a module attribute.
    __jit_unused_properties__ = ["code", "fused_code", "expression"]  # noqa: RUF012 - TorchScript's hook

    def __init__(
        self, channels: int | None = None, channel_dim: int = 1, memory_efficient: bool = True, fuse: object = "auto"
    ) -> None:
        super().__init__()
        self.channels = channels
        self.channel_dim = channel_dim
        self.memory_efficient = memory_efficient
        # "auto" | "on" | "off" (a str: TorchScript reads it in forward); see actlang.compiler.inductor
        self.fusion = self.program.fusion_mode(fuse)
        shape = (channels,) if channels is not None else ()
        for name, init in self.program.params.items():
            self.register_parameter(self.program.attrs[name], nn.Parameter(torch.full(shape, float(init))))
        for site in self.program.sites:
            sub = _site_module(site, channels, channel_dim)
            if isinstance(getattr(sub, "fusion", None), str):  # sites with kernels of their own (DiTAC)
                sub.fusion = self.fusion
            setattr(self, site.name, sub)

    def plain_forward(self, x: torch.Tensor) -> torch.Tensor:  # replaced by the generated code
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """f(x), through the fused autograd function when training needs gradients.

        Each generated subclass defines this method again from its source (``program._dispatch``).
        """
        if torch.jit.is_scripting():
            y = self.plain_forward(x)
        else:
            self.check_kind(x)
            if self.channels is not None:
                self.check_input(x)
            if self.memory_efficient and not torch.compiler.is_compiling() and (
                torch.is_grad_enabled() or self.fusion != "off"
            ):
                y = self.fused_forward(x)
            else:
                y = self.plain_forward(x)
        # Learned tensors stay float32 (master weights): per-channel ones promote a float16 or
        # bfloat16 x, so the result is computed in float32 and handed back in x's dtype.
        if y.dtype != x.dtype and x.is_floating_point():
            y = y.to(x.dtype)
        return y

    @torch.jit.unused
    def check_kind(self, x: torch.Tensor) -> None:
        """x must be a dense floating-point tensor of real numbers (float16 to float64). Torch has
        no kernels for most primitives on the others, each failing in its own words (softplus:
        "not implemented for 'Long'"), and DiTAC given integers failed with an unrelated shape
        error: one message instead, saying what to convert."""
        problem = None
        if not isinstance(x, torch.Tensor):
            raise ActlangError(
                f"actlang activations take a torch.Tensor; got {type(x).__name__}: make one first "
                "(torch.tensor(...), torch.as_tensor(...))"
            )
        if x.is_nested:
            problem = "a nested tensor"
        elif x.layout != torch.strided:
            problem = f"a {str(x.layout).removeprefix('torch.')} tensor"
        elif x.is_complex():
            problem = f"complex values ({x.dtype})"
        elif x.is_floating_point() and x.element_size() == 1:
            problem = f"{x.dtype}, which torch does no arithmetic in"
        elif not x.is_floating_point():
            problem = f"{x.dtype}"
        if problem is not None:
            raise ActlangError(
                f"actlang activations take dense floating-point tensors of real numbers (float16, bfloat16, "
                f"float32 or float64); got {problem}: convert the input first (x.to_dense(), x.float())"
            )

    @torch.jit.unused
    def check_input(self, x: torch.Tensor) -> None:
        """A per-channel module needs x with ``channels`` entries along ``channel_dim``."""
        dim = self.channel_dim if self.channel_dim >= 0 else x.dim() + self.channel_dim
        if not 0 <= dim < x.dim() or x.shape[dim] != self.channels:
            origin = getattr(self, "origin", None)  # the layer replace_activations put it at
            where = f"the activation at {origin!r}" if origin else "this module"
            raise ActlangError(
                f"{where} has {self.channels} channels along dimension {self.channel_dim}: expected an "
                f"input of shape (..., {self.channels}, ...) with the channels at dimension {self.channel_dim} "
                f"(e.g. (N, {self.channels}, ...) for channel_dim=1), got shape {tuple(x.shape)}"
            )

    @torch.jit.unused
    def fused_forward(self, x: torch.Tensor) -> torch.Tensor:
        if _transformed():  # vmap/grad/jacrev/jacfwd and jit.trace: the plain code, which they handle
            return self.plain_forward(x)
        values = [getattr(self, self.program.attrs[name]) for name in self.program.params]
        if self.fusion != "off" and self.program.fusable:  # one inductor kernel each way, when it pays
            y = self.program.kernel_forward(self.fusion, x, values)
            if y is not None:
                return y
        if not torch.is_grad_enabled():
            return self.plain_forward(x)
        fused = self.program.fused()
        # Generated training functions assume a floating x (their temporaries take its dtype), as
        # check_kind made sure.
        if fused is None or not (x.requires_grad or any(v.requires_grad for v in values)):
            return self.plain_forward(x)
        return fused.apply(x, *values)

    def parameter(self, name: str) -> nn.Parameter:
        """The learned scalar ``name`` of the expression: the attribute ``name`` itself, or
        ``param_<name>`` where ``name`` cannot be one (a keyword, a module attribute such as
        ``forward``, a site name such as ``prelu_0``; see :mod:`actlang.compiler.names`)."""
        if name not in self.program.attrs:
            listed = ", ".join(self.program.attrs) or "none"
            raise ActlangError(f"the expression has no learned scalar {name!r}; its learned scalars: {listed}")
        return getattr(self, self.program.attrs[name])

    @property
    def code(self) -> str:
        """The generated source of ``plain_forward`` (straight-line, one statement per node)."""
        return self.program.source

    @property
    def fused_code(self) -> str | None:
        """The generated source of the fused autograd function, or None if not fusable."""
        fused = self.program.fused()
        return None if fused is None else fused.source

    @property
    def expression(self) -> str:
        """The canonical source text of the compiled expression."""
        return self.program.text

    def to_expression(self) -> Expr:
        """The expression with the current values of its learned scalars as initial values.

        Per-channel parameters are written back only when all channels hold one value.
        """
        values: dict[str, float] = {}
        for name in self.program.params:
            tensor = self.parameter(name).detach()
            diverged = tensor[~torch.isfinite(tensor)].flatten()
            if diverged.numel():  # diverged in training: no expression holds it
                raise UnsupportedError(
                    f"parameter '{name}' holds {float(diverged[0])}: an expression's learned scalars start at "
                    "finite values (the training diverged, or the value was set so)"
                )
            if tensor.numel() > 1 and not bool((tensor == tensor.flatten()[0]).all()):
                raise UnsupportedError(
                    f"parameter '{name}' has {tensor.numel()} different per-channel values; "
                    "an expression holds one value per name"
                )
            values[name] = float(tensor.flatten()[0])
        return with_inits(self.program.expression, values)

    def dominant(self) -> Expr:
        """The expression with every ``mix``/``adact`` replaced by its heaviest branch, as
        ``actlang.dominant(module)``; the module's own expression when it holds no mixture.

        The rewrite belongs to the mixtures (:mod:`actlang.research.collapse`); their site modules
        hand it out (``dominant_of``), so the compiler imports nothing above it."""
        for sub in self.modules():
            rewrite = getattr(sub, "dominant_of", None)
            if rewrite is not None:
                return rewrite(self)
        return self.to_expression()

    def extra_repr(self) -> str:
        parts = [self.program.text]
        if self.channels is not None:
            parts.append(f"channels={self.channels}, channel_dim={self.channel_dim}")
        parts.append(f"memory_efficient={self.memory_efficient}")
        if self.fusion != "auto":
            parts.append(f"fuse={self.fusion == 'on'}")
        return ", ".join(parts)

    def __reduce__(self):
        # Generated classes are not importable: rebuild from the text and restore the state.
        state = {k: v.detach().clone() for k, v in self.state_dict().items()}
        options = (self.channels, self.channel_dim, self.memory_efficient, self.training, self.fusion)
        return (self.program.rebuild, (self.program.text, options, state))


def _transformed() -> bool:
    """True inside a torch.func transform or torch.jit.trace: the fused autograd functions save
    and recompute tensors outside autograd's view, which neither can follow."""
    active = getattr(torch._C, "_are_functorch_transforms_active", None)
    return torch.jit.is_tracing() or (active is not None and bool(active()))


def _site_module(site, channels: int | None, channel_dim: int) -> nn.Module:
    """The submodule of one stateful primitive: the registry's factory, or a parameter holder."""
    hp = dict(site.hyper)
    primitive = site.primitive
    if primitive.module is not None:
        module_name, _, factory = primitive.module.partition(":")
        extra = {"arity": site.arity} if primitive.arity is None else {}  # variadic: e.g. mix's n
        return getattr(importlib.import_module(module_name), factory)(hp, channels, channel_dim, **extra)
    holder = nn.Module()
    for learned in primitive.learned:
        shape = ((channels,) if channels is not None else ()) + tuple(learned.shape(hp))
        value = torch.as_tensor(learned.initial(hp), dtype=torch.get_default_dtype())
        holder.register_parameter(learned.name, nn.Parameter(value.expand(shape).clone()))
    return holder
