package bo

import (
	"math/bits"
	"math/rand/v2"
	"strconv"
	"strings"
)

// joeKuo holds Joe and Kuo's Sobol direction numbers (new-joe-kuo-6.21201)
// for dimensions 2 to 32, one row each as "s a m_1 … m_s". Dimension 1 is the
// van der Corput sequence and needs none.
const joeKuo = "1 0 1|2 1 1 3|3 1 1 3 1|3 2 1 1 1|4 1 1 1 3 3|4 4 1 3 5 13|5 2 1 1 5 5 17|" +
	"5 4 1 1 5 5 5|5 7 1 1 7 11 19|5 11 1 1 5 1 1|5 13 1 1 1 3 11|5 14 1 3 5 5 31|" +
	"6 1 1 3 3 9 7 49|6 13 1 1 1 15 21 21|6 16 1 3 1 13 27 49|6 19 1 1 1 15 7 5|" +
	"6 22 1 3 1 15 13 25|6 25 1 1 5 5 19 61|7 1 1 3 7 11 23 15 103|7 4 1 3 7 13 13 15 69|" +
	"7 7 1 1 3 13 7 35 63|7 8 1 3 5 9 1 25 53|7 14 1 3 1 13 9 35 107|7 19 1 3 1 5 27 61 31|" +
	"7 21 1 1 5 11 19 41 61|7 28 1 3 5 3 3 13 69|7 31 1 1 7 13 1 19 1|7 32 1 3 7 5 13 19 59|" +
	"7 37 1 1 3 9 25 29 41|7 41 1 3 5 13 23 1 55|7 42 1 3 7 3 13 59 17"

// sobolMaxDim is the largest dimension the Sobol generator supports; larger
// spaces fall back to scrambled Latin-hypercube points.
const sobolMaxDim = 32

const sobolBits = 32

// sobolDirections returns the direction numbers v[j][k] (k = 0 is the most
// significant bit) of the first d dimensions.
func sobolDirections(d int) [][sobolBits]uint32 {
	rows := strings.Split(joeKuo, "|")
	v := make([][sobolBits]uint32, d)
	for j := 0; j < d; j++ {
		if j == 0 {
			for k := 0; k < sobolBits; k++ {
				v[0][k] = 1 << (sobolBits - 1 - k)
			}
			continue
		}
		f := strings.Fields(rows[j-1])
		s, _ := strconv.Atoi(f[0])
		a, _ := strconv.Atoi(f[1])
		for k := 0; k < s && k < sobolBits; k++ {
			m, _ := strconv.Atoi(f[2+k])
			v[j][k] = uint32(m) << (sobolBits - 1 - k)
		}
		for k := s; k < sobolBits; k++ {
			x := v[j][k-s] ^ (v[j][k-s] >> s)
			for i := 1; i < s; i++ {
				if (a>>(s-1-i))&1 == 1 {
					x ^= v[j][k-i]
				}
			}
			v[j][k] = x
		}
	}
	return v
}

// sobol is a scrambled Sobol sequence in [0, 1)^d: Joe–Kuo direction numbers
// with a random linear matrix scramble and a random digital shift, so that
// different seeds give different, equally well spread point sets. Above
// sobolMaxDim dimensions it yields scrambled Latin-hypercube points instead.
type sobol struct {
	d     int
	v     [][sobolBits]uint32 // scrambled direction numbers
	shift []uint32
	rng   *rand.Rand // only for the Latin-hypercube fallback
}

func newSobol(d int, seed uint64) *sobol {
	rng := rand.New(rand.NewPCG(seed, 0x5b01))
	s := &sobol{d: d, rng: rng}
	if d > sobolMaxDim {
		return s
	}
	s.v = sobolDirections(d)
	s.shift = make([]uint32, d)
	for j := 0; j < d; j++ {
		// Lower-triangular binary matrix with a unit diagonal: output bit b
		// (b = 0 most significant) mixes input bits 0..b.
		var rows [sobolBits]uint32
		for b := 0; b < sobolBits; b++ {
			diag := uint32(1) << (sobolBits - 1 - b)
			above := ^(diag<<1 - 1) // bits more significant than diag
			if b == 0 {
				above = 0
			}
			rows[b] = diag | (rng.Uint32() & above)
		}
		for k := 0; k < sobolBits; k++ {
			x := s.v[j][k]
			var y uint32
			for b := 0; b < sobolBits; b++ {
				if bits.OnesCount32(rows[b]&x)&1 == 1 {
					y |= 1 << (sobolBits - 1 - b)
				}
			}
			s.v[j][k] = y
		}
		s.shift[j] = rng.Uint32()
	}
	return s
}

// point writes the i-th point of the sequence into u.
func (s *sobol) point(i uint64, u []float64) {
	if s.v == nil {
		for j := range u {
			u[j] = s.rng.Float64()
		}
		return
	}
	g := i ^ (i >> 1)
	for j := 0; j < s.d; j++ {
		x := s.shift[j]
		for k, gg := 0, g; gg != 0 && k < sobolBits; k, gg = k+1, gg>>1 {
			if gg&1 == 1 {
				x ^= s.v[j][k]
			}
		}
		u[j] = (float64(x) + 0.5) / (1 << sobolBits)
	}
}

// points returns n points starting at index start. Above sobolMaxDim
// dimensions the n points form one scrambled Latin hypercube.
func (s *sobol) points(start uint64, n int) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, s.d)
	}
	if s.v == nil {
		for j := 0; j < s.d; j++ {
			perm := s.rng.Perm(n)
			for i := range out {
				out[i][j] = (float64(perm[i]) + s.rng.Float64()) / float64(n)
			}
		}
		return out
	}
	for i := range out {
		s.point(start+uint64(i), out[i])
	}
	return out
}
