/* Placeholder until the dataplane lands: lets the package build. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static struct PyModuleDef memif_module = {
    PyModuleDef_HEAD_INIT, "_memif", "memif dataplane", -1, NULL,
};

PyMODINIT_FUNC PyInit__memif(void) { return PyModule_Create(&memif_module); }
