// Package auth issues and checks credentials: bcrypt passwords, short-lived HS256 access
// tokens, rotating refresh tokens with reuse detection, and the revocation denylist.
package auth

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// BcryptCost is the work factor of every stored password; 12 is the floor for this product.
const BcryptCost = 12

// dummyHash is compared against when an email is unknown, so that an unknown address costs the
// same time as a wrong password and response times do not reveal who has an account. It is a
// constant (cost 12, of a throwaway password) so that no process pays for hashing at start.
var dummyHash = []byte("$2a$12$EoATyKXC1ZP6YvMbVUq.6uoGygyDFe1pVp1qXcKduPwulJGGd4qra")

// HashPassword returns the bcrypt hash of a password.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches hash. With an empty hash (unknown user) it
// still does a full bcrypt comparison and reports false. bcrypt compares in constant time.
func CheckPassword(hash, password string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// ValidHash reports whether s is a bcrypt hash with at least the required cost, for admin
// bootstrap from a pre-computed hash.
func ValidHash(s string) error {
	cost, err := bcrypt.Cost([]byte(s))
	if err != nil {
		return errors.New("not a bcrypt hash")
	}
	if cost < BcryptCost {
		return fmt.Errorf("bcrypt cost %d is below the minimum %d", cost, BcryptCost)
	}
	return nil
}
