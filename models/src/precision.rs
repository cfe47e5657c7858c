//! The number format a model's encoder layers compute in.
//!
//! bfloat16 halves the bytes a matrix product reads, and CPUs with AVX-512 BF16 (AMD Zen 4, for
//! one) multiply bfloat16 matrices about twice as fast as float32 ones. Elsewhere libtorch
//! converts each operand to float32 and back, and bfloat16 is slower (0.6 times float32 on an
//! AVX-512 Xeon without AMX, BENCHMARKS.md). So `auto` times one product of each kind at the
//! encoder's shape, once per process, and takes bfloat16 only where it is clearly faster.

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tch::{Device, Kind, Tensor};

/// How a model's encoder layers compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// bfloat16 where this machine multiplies matrices faster in it (timed once), else float32.
    #[default]
    Auto,
    /// float32 throughout.
    #[serde(alias = "f32", alias = "fp32")]
    Float32,
    /// The encoder layers in bfloat16; the embeddings and the output stay float32.
    #[serde(rename = "bfloat16", alias = "bf16")]
    BFloat16,
}

/// bfloat16 is taken only when its product takes at most this share of float32's: a small
/// gain is not worth the precision, and the timing is noisy.
const FASTER: f64 = 0.8;

impl Precision {
    /// The tensor kind to compute in: `Auto` is settled by timing both, once per process.
    pub fn kind(self) -> Kind {
        match self {
            Precision::Float32 => Kind::Float,
            Precision::BFloat16 => Kind::BFloat16,
            Precision::Auto => *AUTO.get_or_init(|| {
                let (float, bfloat) = (time_product(Kind::Float), time_product(Kind::BFloat16));
                let kind = match (float, bfloat) {
                    (Some(f), Some(b)) if b.as_secs_f64() <= FASTER * f.as_secs_f64() => {
                        Kind::BFloat16
                    }
                    _ => Kind::Float,
                };
                let show =
                    |d: Option<Duration>| d.map_or("unavailable".into(), |d| format!("{d:?}"));
                tracing::info!(
                    float = %show(float),
                    bfloat = %show(bfloat),
                    chosen = ?kind,
                    "timed a matrix product in float32 and bfloat16"
                );
                kind
            }),
        }
    }
}

static AUTO: OnceLock<Kind> = OnceLock::new();

/// The best of a few runs of the encoder's largest product (256 tokens, 384 by 1,536) in
/// `kind`, on the calling thread's libtorch threads: a few milliseconds in all. `None` if
/// libtorch cannot compute in `kind` here.
fn time_product(kind: Kind) -> Option<Duration> {
    tch::no_grad(|| {
        let x = Tensor::f_randn([256, 384], (kind, Device::Cpu)).ok()?;
        let w = Tensor::f_randn([1536, 384], (kind, Device::Cpu)).ok()?;
        let _ = x.f_linear::<Tensor>(&w, None).ok()?;
        let mut best = Duration::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            let _ = x.f_linear::<Tensor>(&w, None).ok()?;
            best = best.min(t.elapsed());
        }
        Some(best)
    })
}

/// Bounds libtorch's two oneDNN caches to 16 entries each, unless their variables
/// (`ONEDNN_PRIMITIVE_CACHE_CAPACITY`, `LRU_CACHE_CAPACITY`) are set. libtorch runs bfloat16
/// matrix products through oneDNN, and both caches keep what they build for each input shape,
/// up to 1,024 shapes: every batch of a new token count adds one. A whole-corpus ingest in
/// bfloat16 grew from 334 to 494 MB with the defaults and stayed at 311 to 358 MB with 16, as
/// fast: a batch's six layers reuse its few shapes (BENCHMARKS.md).
///
/// Call it at start-up, before any other thread exists: it sets environment variables, which
/// libtorch reads when it first uses oneDNN.
pub fn bound_onednn_caches() {
    for var in ["ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY"] {
        if std::env::var_os(var).is_none() {
            std::env::set_var(var, "16");
        }
    }
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Precision, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Precision::Auto),
            "float32" | "f32" | "fp32" => Ok(Precision::Float32),
            "bfloat16" | "bf16" => Ok(Precision::BFloat16),
            _ => Err(format!(
                "unknown precision {s:?}: expected auto, float32 or bfloat16"
            )),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::Auto => "auto",
            Precision::Float32 => "float32",
            Precision::BFloat16 => "bfloat16",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precisions_are_read_from_their_names_and_auto_settles_once() {
        for p in [Precision::Auto, Precision::Float32, Precision::BFloat16] {
            assert_eq!(p.to_string().parse::<Precision>(), Ok(p));
        }
        assert_eq!("BF16".parse::<Precision>(), Ok(Precision::BFloat16));
        assert!("half"
            .parse::<Precision>()
            .unwrap_err()
            .contains("auto, float32 or bfloat16"));
        assert_eq!(Precision::Float32.kind(), Kind::Float);
        assert_eq!(Precision::BFloat16.kind(), Kind::BFloat16);
        let auto = Precision::Auto.kind();
        assert!(matches!(auto, Kind::Float | Kind::BFloat16));
        assert_eq!(Precision::Auto.kind(), auto, "timed once, then kept");
    }
}
