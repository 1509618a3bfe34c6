#!/usr/bin/python3
"""Fits the rational erf of compiler/Codegen/ErfApproximation.cpp.

erf(x) ~ x * P(x^2) / Q(x^2) on [0, C], Q(0) = 1, P of degree 6 and Q of
degree 5 in x^2, minimising the largest relative error (Lawson's iteration:
weighted linearised least squares, each point's weight grown by its error).
Prints the coefficients rounded to f32 and the error of evaluating them in
f32 with fused multiply-adds, as the kernels do (ErfApproximationTest checks
the kernels themselves). Needs Debian's python3-numpy.
"""
import math
import numpy as np

C = 3.92  # the fit's range; erf(x) rounds to 1 in f32 from x = 3.8325 on
CLAMP = 3.895  # inside it, where x P / Q evaluates to exactly 1 in f32
P_DEGREE, Q_DEGREE = 6, 5

erf = np.vectorize(math.erf)


def fit(points=4000, iterations=60):
    t = np.cos(np.pi * (np.arange(points) + 0.5) / points)  # Chebyshev nodes
    x = np.sort((t + 1) / 2 * C)
    f, s = erf(x), x * x
    # x P(s) - f (Q(s) - 1) = f, in the unknowns p0..p6, q1..q5, relative.
    a = np.hstack([np.stack([x * s**k for k in range(P_DEGREE + 1)], 1),
                   np.stack([-f * s**k for k in range(1, Q_DEGREE + 1)], 1)])
    w = np.ones(points)
    for _ in range(iterations):
        sol, *_ = np.linalg.lstsq(a * (w / f)[:, None], w, rcond=None)
        p, q = sol[:P_DEGREE + 1], np.concatenate([[1.0], sol[P_DEGREE + 1:]])
        err = np.abs(x * np.polyval(p[::-1], s) / np.polyval(q[::-1], s) - f) / f
        w = w * np.maximum(err, 1e-30)
        w /= w.mean()
    return p.astype(np.float32), q.astype(np.float32)


def in_f32(p, q, xs):
    """The kernels' evaluation: clamp, Horner by fused multiply-adds."""
    x = np.clip(xs, -CLAMP, CLAMP).astype(np.float32)
    s = x * x

    def horner(c):
        acc = np.full_like(s, c[-1])
        for k in c[-2::-1]:
            acc = (acc.astype(np.float64) * s + k).astype(np.float32)
        return acc

    return np.clip((x * horner(p)) / horner(q), -1, 1).astype(np.float32)


p, q = fit()
xs = np.linspace(1e-6, 6, 3000001).astype(np.float32)
y, exact = in_f32(p, q, xs).astype(np.float64), erf(xs.astype(np.float64))
# In units of the f32 spacing of the exact value's binade.
ulps = np.abs(y - exact) / np.ldexp(1.0, np.frexp(exact)[1] - 24)
print(f"worst {ulps.max():.2f} ulp at {xs[ulps.argmax()]:.7g}")
print("P", ", ".join(f"{c!r}f" for c in p.tolist()))
print("Q", ", ".join(f"{c!r}f" for c in q.tolist()))
