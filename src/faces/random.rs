//! Random face vectors, reproducible from a seed: the demo data and
//! benchmark collections of `rollcall faces random`.

/// `rows` random unit vectors of length `dim` (Gaussian directions, so
/// uniform on the sphere), row-major, reproducible from `seed`. With
/// `around`, each row is instead `around` plus Gaussian noise of standard
/// deviation `noise` per component, normalised: a "new photo" of that face.
///
/// ```
/// let v = rollcall::faces::random_vectors(3, 8, 42, None);
/// assert_eq!(v.len(), 24);
/// let norm: f32 = v[..8].iter().map(|x| x * x).sum();
/// assert!((norm - 1.0).abs() < 1e-5);
/// assert_eq!(v, rollcall::faces::random_vectors(3, 8, 42, None));
/// ```
pub fn random_vectors(
    rows: usize,
    dim: usize,
    seed: u64,
    around: Option<(&[f32], f32)>,
) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    // Noise draws from another stream than fresh vectors, so that a noisy
    // copy of a row made with the row's own seed is not a scaled copy.
    let stream = if around.is_some() {
        seed ^ 0x9e37_79b9_7f4a_7c15
    } else {
        seed
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(stream);
    let mut gauss = move || {
        // Box-Muller; 1 - u keeps the logarithm finite.
        let (u, v): (f64, f64) = (rng.random(), rng.random());
        ((-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    };
    let mut out = Vec::with_capacity(rows * dim);
    for _ in 0..rows {
        let start = out.len();
        for i in 0..dim {
            let g = gauss();
            out.push(match around {
                Some((base, noise)) => base.get(i).copied().unwrap_or(0.0) + noise * g,
                None => g,
            });
        }
        let row = &mut out[start..];
        let norm = row
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt()
            .max(f32::MIN_POSITIVE);
        row.iter_mut().for_each(|x| *x /= norm);
    }
    out
}
