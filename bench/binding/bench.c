// Raw libbpf baseline for the binding benchmark: the same operations run.ts does from
// TypeScript, on the same pinned map, timed with CLOCK_MONOTONIC.
//   bench PIN_PATH N BATCH ROUNDS  → one JSON line: median µs per operation / per element
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_SIZE 8
#define VALUE_SIZE 24

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s PIN_PATH N BATCH ROUNDS\n", argv[0]);
		return 2;
	}
	int n = atoi(argv[2]), batch = atoi(argv[3]), rounds = atoi(argv[4]);
	if (n <= 0 || batch <= 0 || rounds <= 0 || rounds > 100) {
		fprintf(stderr, "bench: N, BATCH must be > 0 and ROUNDS in 1..100\n");
		return 2;
	}
	int fd = bpf_obj_get(argv[1]);
	if (fd < 0)
		die(argv[1]);
	unsigned char *keys = calloc(n, KEY_SIZE), *vals = calloc(n, VALUE_SIZE);
	unsigned char out[VALUE_SIZE];
	if (!keys || !vals)
		die("calloc");
	for (int i = 0; i < n; i++) {
		memcpy(keys + (size_t)i * KEY_SIZE, &i, 4);
		memset(vals + (size_t)i * VALUE_SIZE, i & 0xff, VALUE_SIZE);
	}
	double upd[100], look[100], bupd[100], blook[100], bdel[100];
	size_t tok_sz = 8;
	unsigned char in_tok[8], out_tok[8];
	unsigned char *okeys = malloc((size_t)n * KEY_SIZE), *ovals = malloc((size_t)n * VALUE_SIZE);
	if (!okeys || !ovals)
		die("malloc");
	for (int r = 0; r < rounds; r++) {
		double t0 = now_us();
		for (int i = 0; i < n; i++)
			if (bpf_map_update_elem(fd, keys + (size_t)i * KEY_SIZE, vals + (size_t)i * VALUE_SIZE, BPF_ANY))
				die("update");
		double t1 = now_us();
		for (int i = 0; i < n; i++)
			if (bpf_map_lookup_elem(fd, keys + (size_t)i * KEY_SIZE, out))
				die("lookup");
		double t2 = now_us();
		upd[r] = (t1 - t0) / n;
		look[r] = (t2 - t1) / n;

		t0 = now_us();
		for (int off = 0; off < n; off += batch) {
			__u32 cnt = (__u32)(n - off < batch ? n - off : batch);
			LIBBPF_OPTS(bpf_map_batch_opts, o);
			if (bpf_map_update_batch(fd, keys + (size_t)off * KEY_SIZE, vals + (size_t)off * VALUE_SIZE, &cnt, &o))
				die("update batch");
		}
		t1 = now_us();
		size_t total = 0;
		int first = 1;
		while (total < (size_t)n) {
			__u32 cnt = (__u32)(n - total);
			LIBBPF_OPTS(bpf_map_batch_opts, o);
			int rc = bpf_map_lookup_batch(fd, first ? NULL : in_tok, out_tok, okeys + total * KEY_SIZE,
						      ovals + total * VALUE_SIZE, &cnt, &o);
			total += cnt;
			if (rc && errno == ENOENT)
				break;
			if (rc)
				die("lookup batch");
			memcpy(in_tok, out_tok, tok_sz);
			first = 0;
		}
		t2 = now_us();
		if (total != (size_t)n) {
			fprintf(stderr, "bench: lookup batch returned %zu entries, expected %d\n", total, n);
			return 1;
		}
		bupd[r] = (t1 - t0) / n;
		blook[r] = (t2 - t1) / n;

		t0 = now_us();
		for (int off = 0; off < n; off += batch) {
			__u32 cnt = (__u32)(n - off < batch ? n - off : batch);
			LIBBPF_OPTS(bpf_map_batch_opts, o);
			if (bpf_map_delete_batch(fd, keys + (size_t)off * KEY_SIZE, &cnt, &o))
				die("delete batch");
		}
		bdel[r] = (now_us() - t0) / n;
	}
	printf("{\"updateUs\":%.4f,\"lookupUs\":%.4f,\"updateBatchUsPerElem\":%.4f,\"lookupBatchUsPerElem\":%.4f,\"deleteBatchUsPerElem\":%.4f}\n",
	       median(upd, rounds), median(look, rounds), median(bupd, rounds), median(blook, rounds), median(bdel, rounds));
	return 0;
}
