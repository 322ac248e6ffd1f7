// Writes dlib's HOG frontal face detector (get_frontal_face_detector()) as
// its serialized object_detector to stdout: the bytes that
// dlib/image_processing/frontal_face_detector.h holds base64-encoded and
// compressed, decoded by dlib's own base64 and compress_stream code.
//
// Ours, not dlib's: scripts/fetch-models.sh compiles it with g++ against the
// headers of dlib's PyPI sdist (Boost Software License) and runs it once;
// rollcall reads the file it writes (src/faces/photo/detect.rs).
#include <dlib/image_processing/frontal_face_detector.h>
// The few .cpp files of dlib the decoder needs, instead of all of dlib.
#include <dlib/base64/base64_kernel_1.cpp>
#include <dlib/entropy_decoder/entropy_decoder_kernel_2.cpp>
#include <dlib/entropy_encoder/entropy_encoder_kernel_2.cpp>

#include <iostream>

int main() {
    const std::string bytes = dlib::get_serialized_frontal_faces();
    std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::cout.flush();
    return std::cout ? 0 : 1;
}
