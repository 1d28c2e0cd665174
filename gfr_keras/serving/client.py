"""Requests a TF Serving client sends to the exported models, REST and gRPC, and a local runner.

    body = rest_body("step", {"current_pa": chunk, "rate_state": f, "trace_state": h})
    # curl -d "$body" http://localhost:8501/v1/models/gfr_neurons:predict
    request = grpc_request("gfr_neurons", "step", {...})   # PredictionService.Predict
    outputs = predict(tf.saved_model.load(version_dir), "simulate", {"current_pa": current})

Every signature takes float32. TF Serving's REST API converts JSON numbers itself;
over gRPC, and through `loaded.signatures[...]` in Python, a tensor of another dtype
is refused by TensorFlow with a message that names no input ("input #0 was
expected to be a float tensor but is a double tensor"). These helpers cast
numbers to float32 and refuse anything else with an error naming the input.
"""

import json

import numpy as np

SIGNATURE_DTYPE = np.float32  # the dtype of every input of gfr-keras's SavedModels


def as_signature_input(name, value, dtype=SIGNATURE_DTYPE):
    """`value` as a numpy array of the signature's `dtype`; numbers only (ints, floats)."""
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{name}: not a rectangular array of numbers ({error})") from None
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected numbers (sent as {np.dtype(dtype).name}), got dtype {array.dtype}")
    return array.astype(dtype)


def rest_body(signature_name, inputs):
    """TF Serving's REST predict body (columnar `inputs` format) as a JSON string."""
    return json.dumps(
        {"signature_name": signature_name, "inputs": {k: as_signature_input(k, v).tolist() for k, v in inputs.items()}}
    )


def grpc_request(model_name, signature_name, inputs):
    """A `tensorflow_serving.apis.predict_pb2.PredictRequest` (float32 tensors) for `PredictionService.Predict`."""
    import tensorflow as tf

    try:
        from tensorflow_serving.apis import predict_pb2
    except ImportError:
        raise ImportError(
            "grpc_request needs tensorflow-serving-api: pip install 'gfr-keras[serving]'"
        ) from None

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(as_signature_input(name, value)))
    return request


def predict(loaded, signature_name, inputs):
    """Run signature `signature_name` of a `tf.saved_model.load`-ed model on numpy-like `inputs`.

    Numbers of any dtype are cast to the signature's; an unknown or missing input,
    or one that is not numbers, gets an error naming it.
    """
    import tensorflow as tf

    if signature_name not in loaded.signatures:
        raise KeyError(f"signature {signature_name!r}: the model has {sorted(loaded.signatures)}")
    signature = loaded.signatures[signature_name]
    specs = signature.structured_input_signature[1]
    unknown, missing = sorted(set(inputs) - set(specs)), sorted(set(specs) - set(inputs))
    if unknown or missing:
        raise ValueError(f"{signature_name}: unknown inputs {unknown}, missing inputs {missing}; it takes {sorted(specs)}")
    tensors = {k: tf.constant(as_signature_input(k, v, specs[k].dtype.as_numpy_dtype)) for k, v in inputs.items()}
    return {k: v.numpy() for k, v in signature(**tensors).items()}


def run_rest_body(loaded, body):
    """Run a REST body through a loaded model, as the server would (JSON numbers become float32)."""
    payload = json.loads(body)
    return predict(loaded, payload["signature_name"], payload["inputs"])


def run_grpc_request(loaded, request):
    """Run a PredictRequest through a loaded model, as the server would.

    The server feeds each tensor as it comes; one that is not the signature's
    dtype is refused, here with the input's name.
    """
    import tensorflow as tf

    name = request.model_spec.signature_name
    specs = loaded.signatures[name].structured_input_signature[1]
    inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
    for key, value in inputs.items():
        if key in specs and value.dtype != specs[key].dtype.as_numpy_dtype:
            raise TypeError(
                f"{key}: the signature {name!r} takes {specs[key].dtype.name}, the request sends {value.dtype} "
                "(grpc_request builds float32 tensors)"
            )
    return predict(loaded, name, inputs)
