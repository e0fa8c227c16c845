"""CPAB core: the checks a correct 1-D CPAB implementation passes (RESEARCH §1.1).

Every check runs in float64 on the module's own velocity field: agreement with scipy's RK45
(rtol 1e-10) to 1e-6 exactly and 1e-3 through the lookup table, monotonicity, fixed ends,
identity at θ = 0, inverse, flow property, dT/dx = v(T)/v(x), gradcheck in x and θ, and the edge
cases (θ = 0, inputs on vertices and ends, a_c ≈ 0, fixed points inside a cell).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
from scipy.integrate import solve_ivp  # noqa: E402
from torch.func import functional_call  # noqa: E402

from actlang.cpab import reference, tessellation  # noqa: E402
from actlang.cpab.lookup import lookup, pack, pieces  # noqa: E402
from actlang.cpab.lookup_autograd import LookupFunction  # noqa: E402
from actlang.cpab.module import CPAB  # noqa: E402

SHAPES = [(2, True), (5, True), (10, True), (3, False), (8, False)]
FEW_SHAPES = [(2, True), (10, True), (3, False)]  # for the slower gradchecks


def make(cells: int = 10, zero_boundary: bool = True, seed: int = 0, scale: float = 1.0, a=-3.0, b=3.0, **hp):
    """A float64 ``cpab`` module on [a, b] with θ drawn from the smoothness prior (times scale)."""
    module = CPAB(dict(a=a, b=b, cells=cells, zero_boundary=zero_boundary, **hp)).double()
    cov = tessellation.prior_covariance(cells, zero_boundary)
    theta = np.random.default_rng(seed).multivariate_normal(np.zeros(len(cov)), cov) * scale
    with torch.no_grad():
        module.theta.copy_(torch.from_numpy(theta))
    return module


def set_field(module: CPAB, vertex_velocities: list[float]) -> None:
    """Give ``module`` the field with these velocities at the vertices (in [0, 1] units)."""
    w = np.asarray(vertex_velocities, dtype=np.float64)
    m = tessellation.vertex_map(module.cells, module.zero_boundary)
    free = w[1:-1] if module.zero_boundary else w
    theta = tessellation.basis(module.cells, module.zero_boundary).T @ (m @ free)
    with torch.no_grad():
        module.theta.copy_(torch.from_numpy(theta))


def ode(module: CPAB, x: np.ndarray, t: float = 1.0) -> np.ndarray:
    """Integrate dx/dt = module.velocity(x) with DOP853, rtol 1e-12, each point on its own.

    One system for all points lets the step control of one point's kinks (cell boundaries) set
    every point's steps: RK45 at rtol 1e-10 that way was off by 5e-6 on some machines, while the
    closed form agreed with per-point DOP853 to 4e-11."""

    def rhs(_, y):
        with torch.no_grad():
            return module.velocity(torch.from_numpy(y)).numpy()

    return np.array([solve_ivp(rhs, (0.0, t), [p], method="DOP853", rtol=1e-12, atol=1e-13).y[0, -1]
                     for p in np.asarray(x, np.float64).ravel()]).reshape(np.shape(x))


def grid(module: CPAB, count: int = 201) -> torch.Tensor:
    """Points of [a, b]: a dense grid plus every vertex."""
    dense = np.linspace(module.lo, module.hi, count)
    vertices = module.lo + (module.hi - module.lo) * np.arange(module.cells + 1) / module.cells
    return torch.from_numpy(np.unique(np.concatenate([dense, vertices])))


# --- the basis and the prior ---------------------------------------------------------------
@pytest.mark.parametrize(("cells", "zero_boundary"), SHAPES)
def test_basis_is_an_orthonormal_null_space_basis(cells, zero_boundary):
    constraint = tessellation.constraint_matrix(cells, zero_boundary)
    basis = tessellation.basis(cells, zero_boundary)
    assert basis.shape == (2 * cells, tessellation.theta_dim(cells, zero_boundary))
    np.testing.assert_allclose(constraint @ basis, 0.0, atol=1e-13)
    np.testing.assert_allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-13)
    # Same subspace as the SVD null space of L: equal orthogonal projectors.
    _, s, vt = np.linalg.svd(constraint)
    null = vt[np.sum(s > 1e-10) :].T
    np.testing.assert_allclose(basis @ basis.T, null @ null.T, atol=1e-12)
    assert tessellation.basis(cells, zero_boundary) is basis  # cached per shape


@pytest.mark.parametrize(("cells", "zero_boundary"), SHAPES)
def test_prior_is_positive_definite_and_regulariser_is_its_quadratic_form(cells, zero_boundary):
    cov = tessellation.prior_covariance(cells, zero_boundary)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    module = make(cells, zero_boundary, seed=3)
    theta = module.theta.detach().numpy()
    expected = theta @ np.linalg.solve(cov, theta)
    loss = module.regularization(0.5)
    assert loss.item() == pytest.approx(0.5 * expected, rel=1e-10)
    loss.backward()  # gradient 2λΣ⁻¹θ
    np.testing.assert_allclose(module.theta.grad.numpy(), np.linalg.solve(cov, theta), rtol=1e-8)


def test_velocity_field_is_continuous_and_zero_at_the_ends():
    module = make(7, True, seed=1)
    vertices = grid(module, 0)
    eps = 1e-9
    with torch.no_grad():
        below, above = module.velocity(vertices - eps), module.velocity(vertices + eps)
        ends = module.velocity(torch.tensor([module.lo, module.hi], dtype=torch.float64))
    np.testing.assert_allclose(below[1:-1], above[1:-1], atol=1e-6)
    np.testing.assert_allclose(ends, 0.0, atol=1e-12)


# --- the transformation ---------------------------------------------------------------------
@pytest.mark.parametrize(("cells", "zero_boundary"), SHAPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_closed_form_and_lookup_agree_with_an_ode_solver(cells, zero_boundary, seed):
    module = make(cells, zero_boundary, seed=seed, scale=2.0)
    x = grid(module, 61)
    expected = ode(module, x.numpy())
    with torch.no_grad():
        exact = module.transform(x).numpy()
        table = module(x).numpy()  # lookup table (cpab: T inside [a, b])
    assert np.abs(exact - expected).max() <= 1e-6
    assert np.abs(table - expected).max() <= 1e-3


@pytest.mark.parametrize(("cells", "zero_boundary"), SHAPES)
def test_strictly_increasing_with_fixed_ends(cells, zero_boundary):
    module = make(cells, zero_boundary, seed=2, scale=3.0)
    x = torch.linspace(module.lo, module.hi, 4001, dtype=torch.float64)
    with torch.no_grad():
        for y in (module.transform(x), module(x)):
            assert torch.all(torch.diff(y) > 0)
            if zero_boundary:
                assert abs(y[0].item() - module.lo) <= 1e-12 and abs(y[-1].item() - module.hi) <= 1e-12


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_theta_zero_is_exactly_the_identity_with_finite_gradients(dtype):
    for zero_boundary in (True, False):
        module = CPAB(dict(a=-2.0, b=5.0, cells=6, zero_boundary=zero_boundary)).to(dtype)
        x = torch.cat([torch.linspace(-3, 6, 301, dtype=dtype), grid(module, 0).to(dtype)]).requires_grad_()
        for exact in (True, False):
            module.exact = exact
            y = module(x)
            assert torch.equal(y, x)
            y.sum().backward()
            assert torch.all(torch.isfinite(x.grad)) and torch.all(torch.isfinite(module.theta.grad))
            assert torch.all(x.grad == 1.0)
            x.grad = None
            module.theta.grad = None


@pytest.mark.parametrize(("cells", "zero_boundary"), SHAPES)
def test_inverse_is_the_negative_time_flow(cells, zero_boundary):
    module = make(cells, zero_boundary, seed=4, scale=2.0)
    x = grid(module)
    with torch.no_grad():
        np.testing.assert_allclose(module.inverse(module.transform(x)), x, atol=1e-10)
        # The flow of −v undoes the flow of v everywhere (the image of [a, b] is [a, b] only with
        # zero boundary, so T∘T⁻¹ is checked on the flows themselves).
        np.testing.assert_allclose(module.flow(module.flow(x, -1.0)), x, atol=1e-10)
        if zero_boundary:
            np.testing.assert_allclose(module.transform(module.inverse(x)), x, atol=1e-10)


@pytest.mark.parametrize(("cells", "zero_boundary"), SHAPES)
def test_flow_property_half_then_half_is_whole(cells, zero_boundary):
    module = make(cells, zero_boundary, seed=5, scale=2.0)
    half = make(cells, zero_boundary, seed=5, scale=1.0)
    with torch.no_grad():
        half.theta.copy_(module.theta / 2)
    x = grid(module)
    with torch.no_grad():
        whole = module.transform(x)
        np.testing.assert_allclose(half.flow(half.transform(x)), whole, atol=1e-10)
        np.testing.assert_allclose(module.flow(module.transform(x, 0.5), 0.5), whole, atol=1e-10)
        if zero_boundary:  # then T maps [a, b] onto itself and T_{θ/2}∘T_{θ/2} = T_θ as activations
            np.testing.assert_allclose(half.transform(half.transform(x)), whole, atol=1e-10)


@pytest.mark.parametrize(("cells", "zero_boundary"), SHAPES)
def test_derivative_is_velocity_ratio(cells, zero_boundary):
    module = make(cells, zero_boundary, seed=6, scale=2.0)
    x = grid(module, 101)[1:-1].clone().requires_grad_()
    y = module.transform(x)
    (slope,) = torch.autograd.grad(y.sum(), x)
    with torch.no_grad():
        v_x, v_y = module.velocity(x), module.velocity(y)
        moving = v_x.abs() > 1e-6
        np.testing.assert_allclose(slope[moving], (v_y / v_x)[moving], rtol=1e-8)
        np.testing.assert_allclose(module.derivative(x), slope, rtol=1e-8)
        assert torch.all(slope > 0)


@pytest.mark.parametrize(("cells", "zero_boundary"), FEW_SHAPES)
def test_gradcheck_exact_in_x_and_theta(cells, zero_boundary):
    module = make(cells, zero_boundary, seed=7, exact=True)
    x = torch.from_numpy(np.random.default_rng(0).uniform(-3.5, 3.5, 16)).requires_grad_()
    theta = module.theta.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x, t: functional_call(module, {"theta": t}, (x,)), (x, theta))


@pytest.mark.parametrize(("cells", "zero_boundary"), FEW_SHAPES)
def test_gradcheck_lookup_in_x_and_theta(cells, zero_boundary):
    module = make(cells, zero_boundary, seed=8, grid=64)
    x = torch.from_numpy(np.random.default_rng(1).uniform(-3.5, 3.5, 16)).requires_grad_()
    theta = module.theta.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x, t: functional_call(module, {"theta": t}, (x,)), (x, theta))


@pytest.mark.parametrize(("mode", "lo", "closed", "masked"),
                         [(0, -3.0, False, False), (0, -3.0, True, False), (1, -3.0, False, False),
                          (2, 0.0, True, False), (3, -3.0, False, False), (3, 1.0, True, True), (4, -3.0, True, False)])
@pytest.mark.parametrize("channels", [0, 3])
def test_lookup_backward_matches_autograd_of_the_plain_lookup(mode, lo, closed, masked, channels):
    rng = np.random.default_rng(mode)
    shape = (5, 3, 4) if channels else (60,)
    x = torch.from_numpy(np.concatenate([rng.uniform(-5, 5, 56), [lo, 3.0, -6.0, 6.0]]).reshape(shape))
    x.requires_grad_()
    table = torch.from_numpy(rng.normal(0, 0.1, (channels, 33) if channels else (33,))).requires_grad_()
    args = (lo, 3.0, mode, 0.05)
    flags = (closed, masked, 1)

    def plain(x, t):
        return lookup(x, *pieces(t, *args), *args, *flags)

    def fused(x, t):
        return LookupFunction.apply(x, *packed_pieces(t, *args), *args, *flags)

    # Random tables are discontinuous at a and b (T(b) ≠ b), so gradcheck avoids those points.
    smooth = x.detach()[..., 2:].clone().requires_grad_() if channels else x.detach()[:56].clone().requires_grad_()
    assert torch.autograd.gradcheck(fused, (smooth, table))
    assert torch.autograd.gradgradcheck(fused, (smooth, table))
    expected = torch.autograd.grad(plain(x, table).pow(2).sum(), (x, table))
    got = torch.autograd.grad(fused(x, table).pow(2).sum(), (x, table))
    for p, f in zip(expected, got, strict=True):
        np.testing.assert_allclose(f, p, rtol=1e-12, atol=1e-12)


def packed_pieces(t, *args):
    """``(c0, c1, pack(c0, c1))``: what ``LookupFunction`` takes."""
    c0, c1 = pieces(t, *args)
    return c0, c1, pack(c0.detach(), c1.detach())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize("channels", [0, 4])
def test_lookup_backward_on_large_inputs_matches_autograd(mode, channels, dtype):
    # Past the sizes where ``fuse="auto"`` runs the inductor kernels (here: the same functions in
    # eager); float32 runs the packed tables and weights.
    check_large_lookup(mode, channels, 1 << 18, dtype)


def check_large_lookup(mode: int, channels: int, count: int, dtype: torch.dtype = torch.float64) -> None:
    rng = np.random.default_rng(7 + mode)
    x = torch.from_numpy(rng.uniform(-4, 4, (count // 4, 4) if channels else count)).to(dtype).requires_grad_()
    table = torch.from_numpy(rng.normal(0, 0.1, (channels, 65) if channels else (65,))).to(dtype).requires_grad_()
    args = (-3.0, 3.0, mode, 0.05)
    flags = (False, False, 1)
    weights = torch.from_numpy(rng.normal(size=x.shape)).to(dtype)
    plain = lookup(x, *pieces(table, *args), *args, *flags)
    fused = LookupFunction.apply(x, *packed_pieces(table, *args), *args, *flags)
    expected = torch.autograd.grad((plain * weights).sum(), (x, table))
    got = torch.autograd.grad((fused * weights).sum(), (x, table))
    tolerance = 1e-10 if dtype == torch.float64 else 2e-4  # float32: sums of 65,536 values in another order
    for p, f in zip(expected, got, strict=True):
        np.testing.assert_allclose(f.double(), p.double(), rtol=tolerance, atol=tolerance * float(p.abs().max()))


# --- edge cases -----------------------------------------------------------------------------
def test_inputs_on_vertices_and_ends():
    module = make(6, True, seed=9, scale=2.0)
    x = grid(module, 0).clone().requires_grad_()  # exactly the vertices, ends included
    y = module.transform(x)
    np.testing.assert_allclose(y.detach(), ode(module, x.detach().numpy()), atol=1e-6)
    y.sum().backward()
    assert torch.all(torch.isfinite(x.grad)) and torch.all(torch.isfinite(module.theta.grad))
    assert x.grad[0].item() == pytest.approx(np.exp(module._fields()[0][0, 0].item()), rel=1e-8)


@pytest.mark.parametrize("tiny", [0.0, 1e-14, 1e-9, -1e-7])
def test_cells_with_nearly_zero_slope(tiny):
    module = make(5, True)
    # Cells 1 and 2 have (nearly) constant velocity 0.3: a_c ≈ tiny·nc.
    set_field(module, [0.0, 0.3, 0.3 + tiny, 0.3, -0.2, 0.0])
    slopes = module._fields()[0][0]
    assert abs(slopes[1].item()) <= abs(tiny) * 5 + 1e-12
    x = grid(module, 41)
    with torch.no_grad():
        np.testing.assert_allclose(module.transform(x), ode(module, x.numpy()), atol=1e-6)
    xg = x[1:-1].clone().requires_grad_()
    theta = module.theta.detach().clone().requires_grad_()
    module.exact = True
    assert torch.autograd.gradcheck(lambda x, t: functional_call(module, {"theta": t}, (x,)), (xg, theta))


@pytest.mark.parametrize("velocities", [[0.0, -0.4, 0.4, 0.0], [0.0, 0.5, -0.5, 0.0]], ids=["repelling", "attracting"])
def test_fixed_point_inside_a_cell(velocities):
    module = make(3, True)
    set_field(module, velocities)  # v = 0 at the middle of cell 1, i.e. x = 0
    fixed = torch.tensor([0.0], dtype=torch.float64)
    with torch.no_grad():
        assert abs(module.velocity(fixed).item()) <= 1e-12
        assert abs(module.transform(fixed).item()) <= 1e-12
        slope_a = module._fields()[0][0, 1].item()
        assert module.derivative(fixed).item() == pytest.approx(np.exp(slope_a), rel=1e-10)
    x = torch.cat([torch.linspace(-3, 3, 61, dtype=torch.float64), torch.tensor([-1e-9, 1e-9], dtype=torch.float64)])
    with torch.no_grad():
        y = module.transform(x)
        np.testing.assert_allclose(y, ode(module, x.numpy()), atol=1e-6)
        slopes, intercepts = (f[0, 1].item() for f in module._fields())
        star = -3.0 + 6.0 * (-intercepts / slopes)  # the exact fixed point, within rounding of 0
        assert abs(star) <= 1e-14
        away = (x - star).abs() > 1e-12
        assert torch.all(torch.sign(y - star)[away] == torch.sign(x - star)[away])  # nothing crosses it
    xg = x.clone().requires_grad_()
    module.transform(xg).sum().backward()
    assert torch.all(torch.isfinite(xg.grad)) and torch.all(torch.isfinite(module.theta.grad))


def test_lookup_error_is_within_the_interpolation_bound():
    module = make(10, True, seed=11)
    x = torch.linspace(-3, 3, 20001, dtype=torch.float64)
    with torch.no_grad():
        error = (module(x) - module.transform(x)).abs().max().item()
        # Bound h²·max|T''|/8 with T'' estimated by finite differences of the exact map.
        fine = torch.linspace(-3, 3, 30001, dtype=torch.float64)
        step = (fine[1] - fine[0]).item()
        second = torch.diff(module.transform(fine), n=2).abs().max().item() / step**2
    h = 6.0 / module.grid
    assert error <= h**2 * second / 8 * 1.05 + 1e-12
    assert error <= 1e-3


@st.composite
def fields(draw):
    """(cells, zero_boundary, θ) with θ entries up to ±4 (strong warps)."""
    cells = draw(st.integers(2, 12))
    zero_boundary = draw(st.booleans())
    size = tessellation.theta_dim(cells, zero_boundary)
    theta = draw(st.lists(st.floats(-4, 4, allow_nan=False), min_size=size, max_size=size))
    return cells, zero_boundary, np.array(theta)


@given(fields())
def test_property_closed_form_matches_reference_and_is_monotone(field):
    cells, zero_boundary, theta = field
    module = CPAB(dict(a=-1.0, b=2.0, cells=cells, zero_boundary=zero_boundary)).double()
    with torch.no_grad():
        module.theta.copy_(torch.from_numpy(theta))
        x = grid(module, 301)
        y = module.transform(x)
    expected = reference.cpab(x.numpy(), theta, -1.0, 2.0, cells, zero_boundary)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-9, atol=1e-9)
    assert torch.all(torch.diff(y) > 0)
    with torch.no_grad():
        np.testing.assert_allclose(module.inverse(y), x, atol=1e-8)


def test_ditac_double_backward_through_the_fast_path():
    from actlang.cpab.module import DiTAC

    module = DiTAC(dict(a=-3.0, b=3.0, cells=6, grid=64)).double()
    with torch.no_grad():
        module.theta.copy_(torch.from_numpy(np.random.default_rng(3).normal(0, 0.8, module.theta.shape)))
    # Centres of the table's intervals, inside and outside [a, b]: away from the kinks of x̃.
    x = torch.cat([-3.0 + (torch.arange(64, dtype=torch.float64) + 0.5) * 6.0 / 64, torch.tensor([-4.5, 5.0])])

    def first(points: torch.Tensor, create_graph: bool) -> torch.Tensor:
        points = points.clone().requires_grad_()
        return torch.autograd.grad(module(points).sum(), points, create_graph=create_graph)[0], points

    slope, points = first(x, True)
    (curvature,) = torch.autograd.grad(slope.sum(), points)
    step = 1e-6
    numeric = (first(x + step, False)[0] - first(x - step, False)[0]) / (2 * step)
    np.testing.assert_allclose(curvature.numpy(), numeric.numpy(), rtol=1e-6, atol=1e-7)
    assert curvature.abs().max() > 0.1  # Φ's curvature and the warp's slopes both contribute


@pytest.mark.parametrize("zero_boundary", [True, False])
@pytest.mark.parametrize("scale", [1e-9, 0.5, 3.0])
def test_node_flow_matches_autograd_through_the_closed_form(zero_boundary, scale):
    from actlang.cpab import integrate as closed
    from actlang.cpab.nodes import NodeFlow

    rng = np.random.default_rng(int(scale * 10) + zero_boundary)
    cells = 7
    basis = torch.from_numpy(tessellation.basis(cells, zero_boundary).copy())
    theta = torch.from_numpy(rng.normal(0, scale, (3, basis.shape[1]))).requires_grad_()

    def field(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = (t @ basis.t()).view(3, cells, 2)
        return pairs[..., 0], pairs[..., 1]

    nodes = torch.linspace(0.0, 1.0, 129, dtype=torch.float64).expand(3, -1)
    for t in (1.0, 0.4):
        want, _ = closed.integrate(nodes, *field(theta), t, zero_boundary)
        got = NodeFlow.apply(*field(theta), nodes, t, zero_boundary)
        np.testing.assert_allclose(got.detach(), want.detach(), rtol=1e-13, atol=1e-13)
        weights = torch.from_numpy(rng.normal(size=want.shape))
        (expected,) = torch.autograd.grad((want * weights).sum(), theta)
        (found,) = torch.autograd.grad((got * weights).sum(), theta)
        np.testing.assert_allclose(found, expected, rtol=1e-9, atol=1e-12)
    assert torch.autograd.gradcheck(lambda t: NodeFlow.apply(*field(t), nodes[:, ::8], 1.0, zero_boundary), (theta,))


def test_node_flow_steps_carry_only_the_lanes_still_moving():
    """Lanes whose time is spent leave the later steps, whose partials cover exactly the rest."""
    from actlang.cpab import integrate as closed
    from actlang.cpab.nodes import flow_with_partials

    cells = 8
    basis = tessellation.basis(cells, True)
    theta = np.random.default_rng(12).normal(0, 3.0, (2, basis.shape[1]))
    pairs = (theta @ basis.T).reshape(2, cells, 2)
    nodes = np.broadcast_to(np.linspace(0.0, 1.0, 257), (2, 257))
    psi, _, steps = flow_with_partials(nodes, pairs[..., 0], pairs[..., 1], 1.0, True)
    sizes = [len(step[0]) for step in steps]
    assert len(steps) >= 3 and sizes[0] == 2 * 257 and sizes[-1] < sizes[0] and sizes == sorted(sizes, reverse=True)
    for lanes, cell, *partials in steps:
        assert np.all(cell // cells == lanes // 257)  # each lane reads its own row's cells
        assert all(len(p) == len(lanes) for p in partials)
    want, _ = closed.integrate(torch.from_numpy(nodes.copy()), *torch.from_numpy(pairs).unbind(-1), 1.0, True)
    np.testing.assert_allclose(psi, want.numpy(), rtol=1e-13, atol=1e-13)


def test_ditac_under_torch_compile_matches_eager_on_large_inputs():
    from actlang.cpab.module import DiTAC

    module = DiTAC(dict(a=-3.0, b=3.0, cells=8))
    with torch.no_grad():
        module.theta.copy_(torch.from_numpy(np.random.default_rng(5).normal(0, 0.5, module.theta.shape)))
    # Large enough for the inductor kernels, which captured graphs must not use.
    x = torch.linspace(-5, 5, 1 << 18)
    weights = torch.cos(x)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        results = []
        for function in (module, torch.compile(module, fullgraph=True, backend="aot_eager")):
            points = x.clone().requires_grad_()
            y = function(points)
            grads = torch.autograd.grad((y * weights).sum(), (points, module.theta))
            results.append((y.detach(), *grads))
    finally:
        torch.set_num_threads(threads)
    for eager, compiled in zip(*results, strict=True):
        torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-5)


def test_node_flow_is_twice_differentiable():
    from actlang.cpab.nodes import NodeFlow

    cells = 5
    basis = torch.from_numpy(tessellation.basis(cells, True).copy())
    theta = torch.from_numpy(np.random.default_rng(4).normal(0, 0.7, (1, basis.shape[1]))).requires_grad_()
    nodes = torch.linspace(0.0, 1.0, 17, dtype=torch.float64).expand(1, -1)

    def flow(t: torch.Tensor) -> torch.Tensor:
        pairs = (t @ basis.t()).view(1, cells, 2)
        return NodeFlow.apply(pairs[..., 0], pairs[..., 1], nodes, 1.0, True)

    assert torch.autograd.gradgradcheck(flow, (theta,))


@pytest.mark.parametrize("kind", ["cpab", "ditac", "ge_ditac", "l_ditac", "inf_ditac"])
@pytest.mark.parametrize(("channels", "zero_boundary"), [(None, True), (3, False)])
def test_numpy_table_pieces_match_the_torch_path(kind, channels, zero_boundary):
    import actlang

    ends = "b=3" if kind == "ge_ditac" else "a=-3, b=3"
    text = f"{kind}[{ends}, cells=6, grid=64, zero_boundary={str(zero_boundary).lower()}](x)"
    module = getattr(actlang.compile(text, channels=channels).double(), f"{kind}_0")
    with torch.no_grad():
        module.theta.copy_(torch.from_numpy(np.random.default_rng(2).normal(0, 0.8, module.theta.shape)))
    weights = [torch.from_numpy(np.random.default_rng(k).normal(size=(channels or 1, 66))) for k in (0, 1)]
    results = []
    for build in (module._numpy_pieces, lambda dtype: module._torch_rows(module.theta, dtype)):
        c0, c1 = (c.reshape(-1, 66) for c in build(torch.float64))
        (grad,) = torch.autograd.grad((c0 * weights[0]).sum() + (c1 * weights[1]).sum(), module.theta)
        results.append((c0.detach(), c1.detach(), grad))
    for got, want in zip(*results, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)
    if kind not in ("ditac", "inf_ditac") or channels:  # the checks below are slow
        return
    theta = module.theta.detach().clone().requires_grad_()

    from actlang.cpab.table import TablePieces

    basis = module.basis.numpy()
    spec = (basis, module.lo, module.hi, module.grid, module.mode, module.slope, module.zero_boundary)

    def pieces_of(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return TablePieces.apply(t, spec, torch.float64, lambda s: module._torch_rows(s, torch.float64))

    assert torch.autograd.gradcheck(pieces_of, (theta,))
    assert torch.autograd.gradgradcheck(pieces_of, (theta,))
