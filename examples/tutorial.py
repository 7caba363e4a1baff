"""nanopq's tutorial, unchanged but for the import: nanopq_cpp is a drop-in."""

import pickle

import nanopq_cpp as nanopq
import numpy as np

X = np.random.random((10000, 12)).astype(np.float32)
Xt = np.random.random((2000, 12)).astype(np.float32)
query = np.random.random((12,)).astype(np.float32)

# Instantiate with M sub-spaces of Ks codewords each, and train.
pq = nanopq.PQ(M=4, Ks=256, verbose=True)
pq.fit(vecs=Xt, iter=20, seed=123)

# Encode the database: (10000, 4) uint8 codes.
X_code = pq.encode(vecs=X)

# Asymmetric distances from the query to every code.
dt = pq.dtable(query=query)  # dt.dtable.shape = (4, 256)
dists = dt.adist(codes=X_code)  # (10000,)
dists = pq.dtable(query=query).adist(codes=X_code)
min_n = np.argmin(dists)
print("nearest:", min_n)
print("PQ distances:   ", dists[:5])
print("exact distances:", (np.linalg.norm(X - query, axis=1) ** 2)[:5])

# Beyond nanopq: the top 5 without sorting all distances.
ids, top_dists = pq.dtable(query=query).search(X_code, topk=5)
print("top 5:", ids, top_dists)

# Reconstruction.
X_reconstructed = pq.decode(codes=X_code)  # (10000, 12)
print(X[:1], X_reconstructed[:1])

# Pickling.
pq_dumped = pickle.loads(pickle.dumps(pq))
assert pq_dumped == pq

# OPQ: the same interface, with a learned rotation.
opq = nanopq.OPQ(M=4).fit(vecs=Xt, pq_iter=20, rotation_iter=10, seed=123)
X_code = opq.encode(vecs=X)
dists = opq.dtable(query=query).adist(codes=X_code)
print("OPQ nearest:", np.argmin(dists))
