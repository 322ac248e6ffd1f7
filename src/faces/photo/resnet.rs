//! dlib's face recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`):
//! a 150x150 RGB face chip to a 128-d descriptor.
//!
//! Takes in the model file's bytes and chips (interleaved RGB, row-major);
//! gives out what python dlib's `compute_face_descriptor(chip)` returns
//! (the `loss_metric` output, not normalised), within float rounding.
//!
//! The network is `anet_type` of dlib's `tools/python/src/face_recognition.cpp`:
//! a 7x7/2 convolution and a 3x3/2 max pool, then residual blocks of 3x3
//! convolutions at 32, 64, 128 and 256 channels (the first block of each
//! width halves the size: a 3x3/2 convolution beside a 2x2/2 average pool
//! of its input), an average over the whole image and a 128x256 matrix.
//! The file lists every layer with its name and version; the loader checks
//! each against [`architecture`], so another network is an error, not a
//! silent misreading. Each `affine` (the trained batch norm) is folded into
//! the convolution before it at load.
//!
//! Two of dlib's rules matter for the numbers: a convolution or pool with a
//! stride other than 1 has no padding (a 3x3/1 one pads by 1), and
//! `add_prev` of tensors of different shapes zero-pads the smaller one in
//! channels and space (so the 3x3 of a strided convolution adds to the 4x4
//! of the pool beside it, its last row and column being the pool's alone).
//!
//! Activations are kept pixel-major (a pixel's channels contiguous), so a
//! convolution is one matrix product: the filters (`filters x k*k*c`) times
//! the im2col matrix (`k*k*c x pixels`, one column a pixel's patch), whose
//! result is the next activation in the same layout.

use std::path::Path;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use super::dat::{ModelError, Reader, Tensor};

/// The chip's side in pixels.
pub const CHIP_SIZE: usize = 150;
/// The bytes of a chip: 150x150 pixels of 3 bytes (R, G, B).
pub const CHIP_BYTES: usize = CHIP_SIZE * CHIP_SIZE * 3;
/// The descriptor's length.
pub const DESCRIPTOR_LEN: usize = 128;

/// A chip the network cannot take.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChipError {
    /// The chip is not 150x150x3 bytes: a 100x100 chip.
    #[error("a face chip is {CHIP_BYTES} bytes (150x150 RGB), not {found}")]
    Size {
        /// The bytes given.
        found: usize,
    },
}

/// The tags of dlib's `tag1` and `tag2` layers (a residual block's input
/// and its branch's output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagId {
    One,
    Two,
}

/// One step of the network in forward order; each is one or more of
/// dlib's layers (see [`Step::layers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `con` then `affine`, then `relu` when `relu`.
    ConvBn {
        filters: usize,
        size: usize,
        stride: usize,
        relu: bool,
    },
    /// `max_pool<size,size,stride,stride>`.
    MaxPool { size: usize, stride: usize },
    /// `avg_pool<size,size,stride,stride>`.
    AvgPool { size: usize, stride: usize },
    /// `tag1`/`tag2`: remembers the current output.
    Tag(TagId),
    /// `skip1`: the output remembered by the tag.
    Skip(TagId),
    /// `add_prev` of the tag's output, then `relu`.
    AddPrevRelu(TagId),
    /// `avg_pool_everything`: each channel's mean.
    AvgAll,
    /// `fc_no_bias<outputs>`.
    Fc { outputs: usize },
}

/// A layer as dlib serializes it: its wrapper (which writes a version
/// before the layers under it) and, for an `add_layer`, its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Con,
    Affine,
    Relu,
    MaxPool,
    AvgPool,
    AddPrev,
    Fc,
    Tag,
    Skip,
}

impl Step {
    /// dlib's layers of this step, in forward order.
    fn layers(self) -> &'static [Layer] {
        match self {
            Step::ConvBn { relu: true, .. } => &[Layer::Con, Layer::Affine, Layer::Relu],
            Step::ConvBn { relu: false, .. } => &[Layer::Con, Layer::Affine],
            Step::MaxPool { .. } => &[Layer::MaxPool],
            Step::AvgPool { .. } | Step::AvgAll => &[Layer::AvgPool],
            Step::Tag(_) => &[Layer::Tag],
            Step::Skip(_) => &[Layer::Skip],
            Step::AddPrevRelu(_) => &[Layer::AddPrev, Layer::Relu],
            Step::Fc { .. } => &[Layer::Fc],
        }
    }
}

/// `ares<N>`: a residual block keeping the size.
fn residual(steps: &mut Vec<Step>, n: usize) {
    steps.extend([
        Step::Tag(TagId::One),
        conv3(n, 1, true),
        conv3(n, 1, false),
        Step::AddPrevRelu(TagId::One),
    ]);
}

/// `ares_down<N>`: a residual block halving the size.
fn residual_down(steps: &mut Vec<Step>, n: usize) {
    steps.extend([
        Step::Tag(TagId::One),
        conv3(n, 2, true),
        conv3(n, 1, false),
        Step::Tag(TagId::Two),
        Step::Skip(TagId::One),
        Step::AvgPool { size: 2, stride: 2 },
        Step::AddPrevRelu(TagId::Two),
    ]);
}

/// A 3x3 convolution and its batch norm.
fn conv3(filters: usize, stride: usize, relu: bool) -> Step {
    Step::ConvBn {
        filters,
        size: 3,
        stride,
        relu,
    }
}

/// `anet_type`, in forward order (dlib writes it outermost first).
fn architecture() -> Vec<Step> {
    let mut steps = vec![
        Step::ConvBn {
            filters: 32,
            size: 7,
            stride: 2,
            relu: true,
        },
        Step::MaxPool { size: 3, stride: 2 },
    ];
    for (width, downs, blocks) in [
        (32, false, 3),
        (64, true, 3),
        (128, true, 2),
        (256, true, 2),
    ] {
        if downs {
            residual_down(&mut steps, width);
        }
        for _ in 0..blocks {
            residual(&mut steps, width);
        }
    }
    residual_down(&mut steps, 256);
    steps.push(Step::AvgAll);
    steps.push(Step::Fc {
        outputs: DESCRIPTOR_LEN,
    });
    steps
}

/// A convolution with its batch norm folded in.
#[derive(Debug, Clone)]
struct Conv {
    /// Input channels.
    channels: usize,
    /// Output channels.
    filters: usize,
    /// Kernel side.
    size: usize,
    stride: usize,
    /// Zero padding on each side (dlib's: `size / 2` at stride 1, else 0).
    pad: usize,
    /// `filters x (size * size * channels)`, column-major (a column is one
    /// tap of every filter, which the matrix product packs fastest); the
    /// columns in (ky, kx, channel) order, the im2col row order.
    weights: Vec<f32>,
    /// One per filter.
    bias: Vec<f32>,
    relu: bool,
}

/// One operation of the forward pass.
#[derive(Debug, Clone)]
enum Op {
    Conv(Conv),
    MaxPool {
        size: usize,
        stride: usize,
    },
    AvgPool {
        size: usize,
        stride: usize,
    },
    Tag(TagId),
    Skip(TagId),
    AddPrevRelu(TagId),
    AvgAll,
    /// `inputs x 128`, row-major.
    Fc {
        weights: Vec<f32>,
        inputs: usize,
    },
}

/// dlib's face recognition network, loaded.
#[derive(Debug, Clone)]
pub struct FaceNet {
    /// `avg_red`, `avg_green`, `avg_blue` of `input_rgb_image_sized`.
    mean: [f32; 3],
    ops: Vec<Op>,
}

/// An activation: `h x w` pixels of `c` channels, pixel-major.
#[derive(Debug, Default)]
struct Act {
    h: usize,
    w: usize,
    c: usize,
    data: Vec<f32>,
}

/// The buffers of a forward pass: activations that are no longer needed
/// and the im2col matrix, kept for the next layer and the next chip (per
/// thread), so that a layer writes into memory that is already mapped
/// instead of faulting in fresh pages (the largest activation is 0.7 MB,
/// the largest im2col matrix 3.1 MB: about 7 MB kept by each thread that
/// has described a chip).
#[derive(Default)]
struct Buffers {
    spare: Vec<Vec<f32>>,
    im2col: Vec<f32>,
}

impl Buffers {
    /// An `h x w x c` activation of zeros, in a spare buffer if there is one.
    fn zeros(&mut self, h: usize, w: usize, c: usize) -> Act {
        let mut data = self.spare.pop().unwrap_or_default();
        data.clear();
        data.resize(h * w * c, 0.0);
        Act { h, w, c, data }
    }

    /// A copy of `a`, in a spare buffer if there is one.
    fn copy(&mut self, a: &Act) -> Act {
        let mut data = self.spare.pop().unwrap_or_default();
        data.clone_from(&a.data);
        Act { data, ..*a }
    }

    /// Takes back `a`'s buffer for later layers.
    fn recycle(&mut self, a: Act) {
        self.spare.push(a.data);
    }
}

thread_local! {
    /// This thread's [`Buffers`], reused by every chip it describes.
    static BUFFERS: std::cell::RefCell<Buffers> = std::cell::RefCell::default();
}

/// The side of a convolution's or pool's output (dlib's
/// `1 + (in + 2 pad - size) / stride`); at least 1 for the sizes this
/// network sees, whose input is fixed.
fn out_side(input: usize, size: usize, stride: usize, pad: usize) -> usize {
    (input + 2 * pad).saturating_sub(size) / stride.max(1) + 1
}

impl FaceNet {
    /// Reads the model file at `path` (see [`FaceNet::from_bytes`]).
    pub fn load(path: &Path) -> Result<FaceNet, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        FaceNet::from_bytes(&bytes)
    }

    /// Reads a model from the bytes of
    /// `dlib_face_recognition_resnet_model_v1.dat`, checking every layer's
    /// name, version and shape against `anet_type`.
    pub fn from_bytes(bytes: &[u8]) -> Result<FaceNet, ModelError> {
        let steps = architecture();
        let layers: Vec<Layer> = steps
            .iter()
            .flat_map(|s| s.layers().iter().copied())
            .collect();
        let mut r = Reader::new(bytes);
        r.version(1..=1, "add_loss_layer")?;
        r.expect_name("loss_metric_2")?;
        r.f32("loss_metric margin")?;
        r.f32("loss_metric distance threshold")?;
        // Each wrapper's version, outermost first; the innermost is the
        // add_layer over the input layer, of its own versions.
        let mut versions = vec![0; layers.len()];
        for (i, layer) in layers.iter().enumerate().rev() {
            versions[i] = match layer {
                Layer::Tag => r.version(1..=1, "add_tag_layer")?,
                Layer::Skip => r.version(1..=1, "add_skip_layer")?,
                _ if i == 0 => r.version(2..=3, "add_layer over the input")?,
                _ => r.version(1..=2, "add_layer")?,
            };
        }
        r.expect_name("input_rgb_image_sized")?;
        let mean = [r.f32("avg_red")?, r.f32("avg_green")?, r.f32("avg_blue")?];
        let (nr, nc) = (r.u64("input rows")?, r.u64("input columns")?);
        if (nr, nc) != (CHIP_SIZE as u64, CHIP_SIZE as u64) {
            return Err(shape(
                "input_rgb_image_sized",
                "150x150",
                format!("{nr}x{nc}"),
            ));
        }

        let mut layer_at = 0;
        let mut loader = Loader {
            r,
            versions: &versions,
            channels: 3,
            side: CHIP_SIZE,
        };
        let mut ops = Vec::with_capacity(steps.len());
        for step in &steps {
            let first = layer_at;
            layer_at += step.layers().len();
            ops.push(loader.step(*step, first)?);
        }
        loader.r.finish()?;
        Ok(FaceNet { mean, ops })
    }

    /// The descriptor of one chip: 150x150 RGB bytes, interleaved, row by
    /// row (as `get_face_chip` gives it).
    pub fn descriptor(&self, chip_rgb: &[u8]) -> Result<[f32; DESCRIPTOR_LEN], ChipError> {
        if chip_rgb.len() != CHIP_BYTES {
            return Err(ChipError::Size {
                found: chip_rgb.len(),
            });
        }
        BUFFERS.with_borrow_mut(|bufs| {
            let mut act = bufs.zeros(CHIP_SIZE, CHIP_SIZE, 3);
            for (d, px) in act.data.chunks_exact_mut(3).zip(chip_rgb.chunks_exact(3)) {
                for ((d, &v), m) in d.iter_mut().zip(px).zip(self.mean) {
                    *d = (f32::from(v) - m) / 256.0;
                }
            }
            let mut tags = [bufs.zeros(0, 0, 0), bufs.zeros(0, 0, 0)];
            for op in &self.ops {
                let next = match op {
                    Op::Conv(conv) => conv.forward(&act, bufs),
                    Op::MaxPool { size, stride } => pool(&act, *size, *stride, Pool::Max, bufs),
                    Op::AvgPool { size, stride } => pool(&act, *size, *stride, Pool::Mean, bufs),
                    Op::Tag(tag) => {
                        let t = &mut tags[*tag as usize];
                        t.data.clone_from(&act.data);
                        (t.h, t.w, t.c) = (act.h, act.w, act.c);
                        continue;
                    }
                    Op::Skip(tag) => bufs.copy(&tags[*tag as usize]),
                    Op::AddPrevRelu(tag) => add_relu(&act, &tags[*tag as usize], bufs),
                    Op::AvgAll => avg_all(&act, bufs),
                    Op::Fc { weights, inputs } => fc(&act, weights, *inputs, bufs),
                };
                bufs.recycle(std::mem::replace(&mut act, next));
            }
            for t in tags {
                bufs.recycle(t);
            }
            let mut out = [0.0; DESCRIPTOR_LEN];
            for (o, v) in out.iter_mut().zip(&act.data) {
                *o = *v;
            }
            bufs.recycle(act);
            Ok(out)
        })
    }
}

/// Reads the layers' details in forward order, tracking the shape.
struct Loader<'a, 'b> {
    r: Reader<'a>,
    versions: &'b [i32],
    /// Channels of the current output.
    channels: usize,
    /// Side of the current (square) output.
    side: usize,
}

/// A shape mismatch error.
fn shape(what: &str, expected: impl ToString, found: impl ToString) -> ModelError {
    ModelError::Shape {
        what: what.to_string(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// Checks that `found` equals `expected` (`what`'s dimensions).
fn check_dims(
    what: &str,
    expected: (u64, u64, u64, u64),
    found: (u64, u64, u64, u64),
) -> Result<(), ModelError> {
    if expected == found {
        Ok(())
    } else {
        Err(shape(what, format!("{expected:?}"), format!("{found:?}")))
    }
}

impl Loader<'_, '_> {
    /// Reads the details of `step`, whose first layer is `layers[first]`,
    /// and gives its operation.
    fn step(&mut self, step: Step, first: usize) -> Result<Op, ModelError> {
        let op = match step {
            Step::ConvBn {
                filters,
                size,
                stride,
                relu,
            } => {
                let mut conv = self.con(filters, size, stride, first)?;
                self.affine(&mut conv, first + 1)?;
                if relu {
                    self.relu(first + 2)?;
                    conv.relu = true;
                }
                Op::Conv(conv)
            }
            Step::MaxPool { size, stride } => {
                self.pool("max_pool_2", size, stride, first)?;
                Op::MaxPool { size, stride }
            }
            Step::AvgPool { size, stride } => {
                self.pool("avg_pool_2", size, stride, first)?;
                Op::AvgPool { size, stride }
            }
            Step::AvgAll => {
                self.pool("avg_pool_2", 0, 1, first)?;
                self.side = 1;
                Op::AvgAll
            }
            Step::Tag(tag) => Op::Tag(tag),
            Step::Skip(tag) => Op::Skip(tag),
            Step::AddPrevRelu(tag) => {
                self.r.expect_name("add_prev_")?;
                self.tail(first)?;
                self.relu(first + 1)?;
                Op::AddPrevRelu(tag)
            }
            Step::Fc { outputs } => self.fc(outputs, first)?,
        };
        Ok(op)
    }

    /// The learning-rate and weight-decay multipliers of a layer with
    /// parameters (training settings: read past).
    fn skip_multipliers(&mut self) -> Result<(), ModelError> {
        for what in [
            "learning_rate_multiplier",
            "weight_decay_multiplier",
            "bias_learning_rate_multiplier",
            "bias_weight_decay_multiplier",
        ] {
            self.r.f64(what)?;
        }
        Ok(())
    }

    /// The end of an `add_layer` (after its details): three flags and the
    /// training tensors, which inference does not use.
    fn tail(&mut self, layer: usize) -> Result<(), ModelError> {
        self.r.bool("this_layer_setup_called")?;
        self.r.bool("gradient_input_is_stale")?;
        self.r.bool("get_output_and_gradient_input_disabled")?;
        self.r.tensor("x_grad")?;
        self.r.tensor("cached_output")?;
        let version = self.versions.get(layer).copied().unwrap_or(0);
        if layer == 0 {
            self.r.tensor("grad_final")?;
            if version >= 3 {
                self.r.u32("sample_expansion_factor")?;
            }
        } else if version >= 2 {
            self.r.tensor("params_grad")?;
        }
        Ok(())
    }

    /// An `alias_tensor`: its dimensions.
    fn alias(&mut self, what: &'static str) -> Result<(u64, u64, u64, u64), ModelError> {
        self.r.version(1..=1, what)?;
        let mut dims = [0u64; 4];
        for d in &mut dims {
            let offset = self.r.offset();
            *d = u64::try_from(self.r.i64(what)?)
                .map_err(|_| ModelError::BadInteger { offset, what })?;
        }
        Ok((dims[0], dims[1], dims[2], dims[3]))
    }

    /// A `long` and an `int` pair read as sizes.
    fn sizes(&mut self, what: &'static str, long: bool) -> Result<(i64, i64), ModelError> {
        if long {
            Ok((self.r.i64(what)?, self.r.i64(what)?))
        } else {
            Ok((i64::from(self.r.i32(what)?), i64::from(self.r.i32(what)?)))
        }
    }

    /// `con_4`: a convolution of `filters` kernels of `size x size`.
    fn con(
        &mut self,
        filters: usize,
        size: usize,
        stride: usize,
        layer: usize,
    ) -> Result<Conv, ModelError> {
        self.r.expect_name("con_4")?;
        let params = self.r.tensor("con params")?;
        let num_filters = self.r.i64("num_filters")?;
        let kernel = self.sizes("con kernel", true)?;
        let strides = self.sizes("con stride", false)?;
        let pads = self.sizes("con padding", false)?;
        let pad = if stride == 1 { size / 2 } else { 0 };
        let (f, s, st, p) = (filters as i64, size as i64, stride as i64, pad as i64);
        if (num_filters, kernel, strides, pads) != (f, (s, s), (st, st), (p, p)) {
            return Err(shape(
                "con",
                format!("{filters} filters {size}x{size} stride {stride} padding {pad}"),
                format!("{num_filters} filters {kernel:?} stride {strides:?} padding {pads:?}"),
            ));
        }
        let c = self.channels as u64;
        let (fu, su) = (filters as u64, size as u64);
        check_dims("con filters", (fu, c, su, su), self.alias("con filters")?)?;
        check_dims("con biases", (1, fu, 1, 1), self.alias("con biases")?)?;
        self.skip_multipliers()?;
        self.tail(layer)?;

        let k = size * size * self.channels;
        expect_len("con params", &params, filters * k + filters)?;
        // dlib's filters are (filter, channel, ky, kx); im2col's rows are
        // (ky, kx, channel).
        let (filt, bias) = params.data.split_at(filters * k);
        let mut weights = vec![0.0; filters * k];
        let channels = self.channels;
        for fi in 0..filters {
            for ch in 0..channels {
                for ky in 0..size {
                    for kx in 0..size {
                        weights[((ky * size + kx) * channels + ch) * filters + fi] =
                            filt[((fi * channels + ch) * size + ky) * size + kx];
                    }
                }
            }
        }
        self.side = out_side(self.side, size, stride, pad);
        self.channels = filters;
        Ok(Conv {
            channels,
            filters,
            size,
            stride,
            pad,
            weights,
            bias: bias.to_vec(),
            relu: false,
        })
    }

    /// `affine_` (in conv mode), folded into `conv`:
    /// `gamma * (w x + b) + beta`.
    fn affine(&mut self, conv: &mut Conv, layer: usize) -> Result<(), ModelError> {
        self.r.expect_name("affine_")?;
        let params = self.r.tensor("affine params")?;
        let f = conv.filters as u64;
        check_dims("affine gamma", (1, f, 1, 1), self.alias("affine gamma")?)?;
        check_dims("affine beta", (1, f, 1, 1), self.alias("affine beta")?)?;
        let offset = self.r.offset();
        let mode = self.r.i32("affine mode")?;
        if mode != 0 {
            return Err(ModelError::BadInteger {
                offset,
                what: "affine mode (CONV_MODE)",
            });
        }
        self.tail(layer)?;
        expect_len("affine params", &params, 2 * conv.filters)?;
        let (gamma, beta) = params.data.split_at(conv.filters);
        for tap in conv.weights.chunks_exact_mut(conv.filters.max(1)) {
            tap.iter_mut().zip(gamma).for_each(|(w, g)| *w *= g);
        }
        for ((b, g), beta) in conv.bias.iter_mut().zip(gamma).zip(beta) {
            *b = *b * g + beta;
        }
        Ok(())
    }

    /// `relu_`.
    fn relu(&mut self, layer: usize) -> Result<(), ModelError> {
        self.r.expect_name("relu_")?;
        self.tail(layer)
    }

    /// `max_pool_2` or `avg_pool_2` of `size x size` (0: everything) and
    /// `stride`, without padding.
    fn pool(
        &mut self,
        name: &'static str,
        size: usize,
        stride: usize,
        layer: usize,
    ) -> Result<(), ModelError> {
        self.r.expect_name(name)?;
        let kernel = self.sizes("pool kernel", true)?;
        let strides = self.sizes("pool stride", false)?;
        let pads = self.sizes("pool padding", false)?;
        let pad = if stride == 1 { size / 2 } else { 0 };
        let (s, st, p) = (size as i64, stride as i64, pad as i64);
        if (kernel, strides, pads) != ((s, s), (st, st), (p, p)) {
            return Err(shape(
                name,
                format!("{size}x{size} stride {stride} padding {pad}"),
                format!("{kernel:?} stride {strides:?} padding {pads:?}"),
            ));
        }
        self.tail(layer)?;
        if size > 0 {
            self.side = out_side(self.side, size, stride, 0);
        }
        Ok(())
    }

    /// `fc_2` without bias: the last layer.
    fn fc(&mut self, outputs: usize, layer: usize) -> Result<Op, ModelError> {
        self.r.expect_name("fc_2")?;
        let num_outputs = self.r.u64("fc num_outputs")?;
        let num_inputs = self.r.u64("fc num_inputs")?;
        let inputs = self.channels * self.side * self.side;
        if (num_outputs, num_inputs) != (outputs as u64, inputs as u64) {
            return Err(shape(
                "fc",
                format!("{inputs} inputs to {outputs} outputs"),
                format!("{num_inputs} inputs to {num_outputs} outputs"),
            ));
        }
        let params = self.r.tensor("fc params")?;
        let (i, o) = (inputs as u64, outputs as u64);
        check_dims("fc weights", (i, o, 1, 1), self.alias("fc weights")?)?;
        self.alias("fc biases")?;
        let offset = self.r.offset();
        if self.r.i32("fc bias mode")? != 1 {
            return Err(ModelError::BadInteger {
                offset,
                what: "fc bias mode (FC_NO_BIAS)",
            });
        }
        self.skip_multipliers()?;
        self.tail(layer)?;
        expect_len("fc params", &params, inputs * outputs)?;
        Ok(Op::Fc {
            weights: params.data,
            inputs,
        })
    }
}

/// Checks a parameter tensor's size.
fn expect_len(what: &str, t: &Tensor, len: usize) -> Result<(), ModelError> {
    if t.data.len() == len {
        Ok(())
    } else {
        Err(shape(
            what,
            format!("{len} floats"),
            format!("{:?}", t.shape()),
        ))
    }
}

impl Conv {
    /// The convolution of `input` (im2col into the buffers' matrix, then
    /// one product), bias added and relu applied.
    fn forward(&self, input: &Act, bufs: &mut Buffers) -> Act {
        let (oh, ow) = (
            out_side(input.h, self.size, self.stride, self.pad),
            out_side(input.w, self.size, self.stride, self.pad),
        );
        let k = self.size * self.size * self.channels;
        let pixels = oh * ow;
        let scratch = &mut bufs.im2col;
        // Every element is written below (a tap outside the input as
        // zeros), so the buffer is only grown, never cleared.
        if scratch.len() < k * pixels {
            scratch.resize(k * pixels, 0.0);
        }
        let (c, size) = (self.channels, self.size);
        for oy in 0..oh {
            for ox in 0..ow {
                let col = &mut scratch[(oy * ow + ox) * k..][..k];
                // The taps of one kernel row are consecutive pixels of one
                // input row: one copy when all of them are inside.
                let x0 = (ox * self.stride).wrapping_sub(self.pad);
                let inside = ox * self.stride >= self.pad && x0 + size <= input.w;
                for ky in 0..size {
                    let iy = (oy * self.stride + ky).wrapping_sub(self.pad);
                    let row = &mut col[ky * size * c..][..size * c];
                    if iy >= input.h {
                        row.fill(0.0);
                    } else if inside {
                        row.copy_from_slice(&input.data[(iy * input.w + x0) * c..][..size * c]);
                    } else {
                        for (kx, tap) in row.chunks_exact_mut(c).enumerate() {
                            let ix = x0.wrapping_add(kx);
                            if ix >= input.w {
                                tap.fill(0.0);
                            } else {
                                tap.copy_from_slice(&input.data[(iy * input.w + ix) * c..][..c]);
                            }
                        }
                    }
                }
            }
        }
        let mut out = bufs.zeros(oh, ow, self.filters);
        let lhs = MatRef::from_column_major_slice(&self.weights, self.filters, k);
        let rhs = MatRef::from_column_major_slice(&bufs.im2col[..k * pixels], k, pixels);
        let dst = MatMut::from_column_major_slice_mut(&mut out.data, self.filters, pixels);
        matmul(dst, Accum::Replace, lhs, rhs, 1.0, Par::Seq);
        for px in out.data.chunks_exact_mut(self.filters) {
            for (v, b) in px.iter_mut().zip(&self.bias) {
                *v += b;
                if self.relu {
                    *v = v.max(0.0);
                }
            }
        }
        out
    }
}

/// A pool's reduction.
#[derive(Debug, Clone, Copy)]
enum Pool {
    Max,
    Mean,
}

/// Max or average pooling, `size x size` windows at `stride`, no padding.
fn pool(input: &Act, size: usize, stride: usize, kind: Pool, bufs: &mut Buffers) -> Act {
    let (oh, ow, c) = (
        out_side(input.h, size, stride, 0),
        out_side(input.w, size, stride, 0),
        input.c,
    );
    let mut out = bufs.zeros(oh, ow, c);
    let init = match kind {
        Pool::Max => f32::NEG_INFINITY,
        Pool::Mean => 0.0,
    };
    let scale = 1.0 / (size * size) as f32;
    for oy in 0..oh {
        for ox in 0..ow {
            let dst = &mut out.data[(oy * ow + ox) * c..][..c];
            dst.fill(init);
            for ky in 0..size {
                for kx in 0..size {
                    let (iy, ix) = (oy * stride + ky, ox * stride + kx);
                    if iy >= input.h || ix >= input.w {
                        continue;
                    }
                    let src = &input.data[(iy * input.w + ix) * c..][..c];
                    for (d, s) in dst.iter_mut().zip(src) {
                        *d = match kind {
                            Pool::Max => d.max(*s),
                            Pool::Mean => *d + s,
                        };
                    }
                }
            }
            if let Pool::Mean = kind {
                dst.iter_mut().for_each(|d| *d *= scale);
            }
        }
    }
    out
}

/// `relu(add_prev)`: `a + b`, the smaller zero-padded (top-left aligned) to
/// the larger's channels, rows and columns, then `max(0, x)`.
fn add_relu(a: &Act, b: &Act, bufs: &mut Buffers) -> Act {
    let mut out = bufs.zeros(a.h.max(b.h), a.w.max(b.w), a.c.max(b.c));
    for src in [a, b] {
        for y in 0..src.h {
            for x in 0..src.w {
                let s = &src.data[(y * src.w + x) * src.c..][..src.c];
                let d = &mut out.data[(y * out.w + x) * out.c..][..src.c];
                d.iter_mut().zip(s).for_each(|(d, s)| *d += s);
            }
        }
    }
    out.data.iter_mut().for_each(|v| *v = v.max(0.0));
    out
}

/// Each channel's mean over all pixels (`avg_pool_everything`).
fn avg_all(input: &Act, bufs: &mut Buffers) -> Act {
    let mut out = bufs.zeros(1, 1, input.c);
    for px in input.data.chunks_exact(input.c.max(1)) {
        out.data.iter_mut().zip(px).for_each(|(d, s)| *d += s);
    }
    let n = (input.h * input.w).max(1) as f32;
    out.data.iter_mut().for_each(|d| *d /= n);
    out
}

/// The fully connected layer: `out[j] = sum_i x[i] w[i][j]`.
fn fc(input: &Act, weights: &[f32], inputs: usize, bufs: &mut Buffers) -> Act {
    let outputs = weights.len() / inputs.max(1);
    let mut out = bufs.zeros(1, 1, outputs);
    for (x, row) in input.data.iter().zip(weights.chunks_exact(outputs.max(1))) {
        out.data.iter_mut().zip(row).for_each(|(d, w)| *d += x * w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faces::photo::models::{for_test, RESNET_FILE};

    const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/faces-golden");

    fn model_bytes() -> Option<Vec<u8>> {
        let dir = for_test(RESNET_FILE)?;
        Some(std::fs::read(dir.join(RESNET_FILE)).expect("reading the model"))
    }

    /// Each golden chip (`chips/NAME-K.png`, the chip python dlib's
    /// `get_face_chip` made) and its `chip_descriptor`.
    fn golden_chips() -> Vec<(String, Vec<u8>, Vec<f64>)> {
        let text = std::fs::read_to_string(format!("{GOLDEN}/golden.json")).expect("golden.json");
        let golden: serde_json::Value = serde_json::from_str(&text).expect("golden.json parses");
        let images = golden["images"].as_object().expect("images");
        let mut chips = Vec::new();
        for (name, image) in images {
            let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
            for (k, face) in image["hog_faces"]
                .as_array()
                .expect("hog_faces")
                .iter()
                .enumerate()
            {
                let png = format!("{GOLDEN}/chips/{stem}-{k}.png");
                let rgb = image::open(&png)
                    .unwrap_or_else(|e| panic!("{png}: {e}"))
                    .to_rgb8();
                assert_eq!(rgb.dimensions(), (150, 150), "{png}");
                let want = face["chip_descriptor"]
                    .as_array()
                    .expect("chip_descriptor")
                    .iter()
                    .map(|v| v.as_f64().expect("a number"))
                    .collect::<Vec<_>>();
                assert_eq!(want.len(), DESCRIPTOR_LEN);
                chips.push((format!("{stem}-{k}"), rgb.into_raw(), want));
            }
        }
        chips
    }

    #[test]
    fn golden_chip_descriptors() {
        let Some(dir) = for_test(RESNET_FILE) else {
            return;
        };
        let net = FaceNet::load(&dir.join(RESNET_FILE)).expect("the model loads");
        let chips = golden_chips();
        assert_eq!(chips.len(), 7, "one chip per golden face");
        for (name, rgb, want) in &chips {
            let got = net.descriptor(rgb).expect("a 150x150 chip");
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                assert!(
                    (f64::from(*g) - w).abs() <= 1e-4,
                    "{name}[{i}]: {g} vs dlib's {w}"
                );
            }
        }
        // The same person is near, another far (dlib's rule: < 0.6).
        let obama = net.descriptor(&chips.iter().find(|c| c.0 == "obama-0").expect("obama").1);
        let obama2 = net.descriptor(&chips.iter().find(|c| c.0 == "obama2-0").expect("obama2").1);
        let biden = net.descriptor(&chips.iter().find(|c| c.0 == "biden-0").expect("biden").1);
        let dist = |a: &[f32; 128], b: &[f32; 128]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y) * (x - y))
                .sum::<f32>()
                .sqrt()
        };
        let (o, o2, b) = (obama.unwrap(), obama2.unwrap(), biden.unwrap());
        assert!(dist(&o, &o2) < 0.6, "{}", dist(&o, &o2));
        assert!(dist(&o, &b) > 0.6, "{}", dist(&o, &b));
    }

    #[test]
    fn chip_of_the_wrong_size() {
        let Some(bytes) = model_bytes() else {
            return;
        };
        let net = FaceNet::from_bytes(&bytes).expect("the model loads");
        let err = net.descriptor(&[0; 100 * 100 * 3]).unwrap_err();
        assert_eq!(err, ChipError::Size { found: 30000 });
        assert_eq!(
            err.to_string(),
            "a face chip is 67500 bytes (150x150 RGB), not 30000"
        );
        // A flat grey chip gives finite numbers.
        let grey = net.descriptor(&[128; CHIP_BYTES]).expect("a chip");
        assert!(grey.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let err = FaceNet::load(Path::new("/nonexistent/model.dat")).unwrap_err();
        assert!(matches!(err, ModelError::Io { .. }), "{err}");
        assert!(err
            .to_string()
            .starts_with("cannot read model file /nonexistent/model.dat: "));
    }

    #[test]
    fn architecture_matches_anet_type() {
        let steps = architecture();
        let layers: Vec<Layer> = steps
            .iter()
            .flat_map(|s| s.layers().iter().copied())
            .collect();
        let count = |l: Layer| layers.iter().filter(|&&x| x == l).count();
        // As the file lists them: 29 con_4, 29 affine_, 29 relu_, 14
        // add_prev_, 5 avg_pool_2, 1 max_pool_2, 1 fc_2.
        assert_eq!(
            [
                Layer::Con,
                Layer::Affine,
                Layer::Relu,
                Layer::AddPrev,
                Layer::AvgPool,
                Layer::MaxPool,
                Layer::Fc
            ]
            .map(count),
            [29, 29, 29, 14, 5, 1, 1]
        );
    }

    #[test]
    fn add_prev_zero_pads_the_smaller() {
        // A 1x1 of 1 channel plus a 2x1 of 2 channels (top-left aligned).
        let a = Act {
            h: 1,
            w: 1,
            c: 1,
            data: vec![-5.0],
        };
        let b = Act {
            h: 2,
            w: 1,
            c: 2,
            data: vec![1.0, 2.0, 3.0, -4.0],
        };
        let out = add_relu(&a, &b, &mut Buffers::default());
        assert_eq!((out.h, out.w, out.c), (2, 1, 2));
        assert_eq!(out.data, [0.0, 2.0, 3.0, 0.0]);
    }

    #[test]
    fn corrupt_model_is_an_error_not_a_panic() {
        let Some(bytes) = model_bytes() else {
            return;
        };
        // Cut short anywhere: always an error.
        let len = bytes.len();
        let mut cuts: Vec<usize> = (0..300).collect();
        cuts.extend((1..12).map(|i| i * (len / 12)));
        cuts.extend([len - 1, len - 4, 19_380, 19_381]);
        for cut in cuts {
            let err = FaceNet::from_bytes(&bytes[..cut]).expect_err("a truncated model");
            assert!(
                matches!(
                    err,
                    ModelError::Truncated { .. } | ModelError::BadInteger { .. }
                ),
                "cut at {cut}: {err}"
            );
        }
        // A byte too many.
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            FaceNet::from_bytes(&longer),
            Err(ModelError::TrailingBytes { remaining: 1, .. })
        ));
        // Bytes flipped in the structure (a flip inside a weight is only
        // another weight): an error or a model, never a panic.
        let mut flipped = bytes.clone();
        let mut header_errors = 0;
        for at in (0..289).chain((289..len).step_by(len / 8)) {
            for mask in [0x01, 0x80, 0xff] {
                flipped[at] ^= mask;
                let failed = FaceNet::from_bytes(&flipped).is_err();
                flipped[at] ^= mask;
                // The first 289 bytes are the loss layer and the versions
                // of the layers (all structure but the loss's two floats).
                if at < 289 {
                    header_errors += usize::from(failed);
                }
            }
        }
        assert!(
            header_errors >= 800,
            "only {header_errors} of 867 flips detected"
        );
    }
}
