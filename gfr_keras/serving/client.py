"""Requests a TF Serving client sends to the exported models, REST and gRPC.

    body = rest_body("step", {"current_pa": chunk, "rate_state": f, "trace_state": h})
    # curl -d "$body" http://localhost:8501/v1/models/gfr_neurons:predict
    request = grpc_request("gfr_neurons", "step", {...})   # PredictionService.Predict
"""

import json

import numpy as np


def rest_body(signature_name, inputs):
    """TF Serving's REST predict body (columnar `inputs` format) as a JSON string."""
    return json.dumps(
        {"signature_name": signature_name, "inputs": {k: np.asarray(v).tolist() for k, v in inputs.items()}}
    )


def grpc_request(model_name, signature_name, inputs, dtypes=None):
    """A `tensorflow_serving.apis.predict_pb2.PredictRequest` for `PredictionService.Predict`."""
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
        dtype = (dtypes or {}).get(name, np.float32)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value, dtype=dtype)))
    return request


def run_rest_body(loaded, body):
    """Run a REST body through a `tf.saved_model.load`-ed model, as the server would."""
    import tensorflow as tf

    payload = json.loads(body)
    signature = loaded.signatures[payload["signature_name"]]
    specs = signature.structured_input_signature[1]
    inputs = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in payload["inputs"].items()}
    return {k: v.numpy() for k, v in signature(**inputs).items()}


def run_grpc_request(loaded, request):
    """Run a PredictRequest through a loaded model, as the server would."""
    import tensorflow as tf

    signature = loaded.signatures[request.model_spec.signature_name]
    inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
    return {k: v.numpy() for k, v in signature(**inputs).items()}
