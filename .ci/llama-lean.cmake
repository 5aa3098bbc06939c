# Injected into llama.cpp's CMake project (CMAKE_PROJECT_llama.cpp_INCLUDE) by .ci/run:
# llama-cpp-python sets LLAMA_BUILD_COMMON itself, so -D on the command line is overridden;
# the bindings never use libcommon, and skipping it roughly halves the build on 2 cores.
set(LLAMA_BUILD_COMMON OFF CACHE BOOL "" FORCE)
