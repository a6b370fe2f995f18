package auth

import (
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestDummyHashCostsAsMuchAsARealOne(t *testing.T) {
	cost, err := bcrypt.Cost(dummyHash)
	if err != nil || cost != BcryptCost {
		t.Fatalf("dummy hash cost %d (%v), want %d: unknown emails would answer faster", cost, err, BcryptCost)
	}
	if CheckPassword("", "anything") {
		t.Fatal("an unknown user authenticated")
	}
	h, err := HashPassword("a long password here")
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := bcrypt.Cost([]byte(h)); c < BcryptCost {
		t.Fatalf("stored cost %d", c)
	}
	if !CheckPassword(h, "a long password here") || CheckPassword(h, "a long password herE") {
		t.Fatal("password check is wrong")
	}
	if ValidHash(h) != nil || ValidHash("$2a$04$abcdefghijklmnopqrstuuJ8y7oHnVjmfB5yqT0JQ6yuh7xG7QjW2") == nil || ValidHash("plain") == nil {
		t.Fatal("ValidHash")
	}
}

func TestCheckSecretRefusesWeakSecrets(t *testing.T) {
	for _, s := range []string{"", "short", "dev-secret-key-change-me", "please-change-this-secret-in-production!!"} {
		if CheckSecret([]byte(s)) == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if err := CheckSecret(RandomSecret()); err != nil {
		t.Fatal(err)
	}
}
