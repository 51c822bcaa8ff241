#pragma once
/// Describing a message or state type once, next to its definition.
///
/// Example:
///   enum class HeaterMode : std::uint8_t { off, on, boost };
///   STATEBUS_ENUM(HeaterMode, off, on, boost);
///
///   struct HeaterCommand {
///     HeaterMode mode;
///     float power_watts;
///     char reason[32];
///   };
///   STATEBUS_MESSAGE(HeaterCommand, "home/HeaterCommand", mode, power_watts, reason);
///
///   const statebus::Schema& schema = statebus::schema_of<HeaterCommand>();
///
/// Fields may be bool, integers, float, double, enums, char arrays (text),
/// arrays (C arrays or std::array) of any of these, and nested described
/// structs. Use the macros in the namespace of the type. Up to 32 fields.

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "statebus/base/schema.hpp"

// ---- the macros -------------------------------------------------------------

#define STATEBUS_DETAIL_EXPAND(x) x
#define STATEBUS_DETAIL_FE_1(m, t, x) m(t, x)
#define STATEBUS_DETAIL_FE_2(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_1(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_3(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_2(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_4(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_3(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_5(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_4(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_6(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_5(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_7(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_6(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_8(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_7(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_9(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_8(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_10(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_9(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_11(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_10(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_12(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_11(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_13(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_12(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_14(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_13(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_15(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_14(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_16(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_15(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_17(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_16(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_18(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_17(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_19(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_18(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_20(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_19(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_21(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_20(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_22(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_21(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_23(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_22(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_24(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_23(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_25(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_24(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_26(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_25(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_27(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_26(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_28(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_27(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_29(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_28(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_30(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_29(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_31(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_30(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_32(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_31(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_PICK(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, _18, \
                                _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, _32, NAME, ...)   \
  NAME
#define STATEBUS_DETAIL_FOR_EACH(m, t, ...)                                                                       \
  STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_PICK(                                                                 \
      __VA_ARGS__, STATEBUS_DETAIL_FE_32, STATEBUS_DETAIL_FE_31, STATEBUS_DETAIL_FE_30, STATEBUS_DETAIL_FE_29,    \
      STATEBUS_DETAIL_FE_28, STATEBUS_DETAIL_FE_27, STATEBUS_DETAIL_FE_26, STATEBUS_DETAIL_FE_25,                 \
      STATEBUS_DETAIL_FE_24, STATEBUS_DETAIL_FE_23, STATEBUS_DETAIL_FE_22, STATEBUS_DETAIL_FE_21,                 \
      STATEBUS_DETAIL_FE_20, STATEBUS_DETAIL_FE_19, STATEBUS_DETAIL_FE_18, STATEBUS_DETAIL_FE_17,                 \
      STATEBUS_DETAIL_FE_16, STATEBUS_DETAIL_FE_15, STATEBUS_DETAIL_FE_14, STATEBUS_DETAIL_FE_13,                 \
      STATEBUS_DETAIL_FE_12, STATEBUS_DETAIL_FE_11, STATEBUS_DETAIL_FE_10, STATEBUS_DETAIL_FE_9,                  \
      STATEBUS_DETAIL_FE_8, STATEBUS_DETAIL_FE_7, STATEBUS_DETAIL_FE_6, STATEBUS_DETAIL_FE_5,                     \
      STATEBUS_DETAIL_FE_4, STATEBUS_DETAIL_FE_3, STATEBUS_DETAIL_FE_2, STATEBUS_DETAIL_FE_1, unused)(m, t, __VA_ARGS__))

#define STATEBUS_DETAIL_VISIT_FIELD(Type, field) visit(#field, &Type::field);
#define STATEBUS_DETAIL_ENUMERATOR(Type, value) {static_cast<std::int64_t>(Type::value), #value},

/// Describes a trivially copyable struct: its type name (as tools show it)
/// and its fields, in any order. Use in the namespace of `Type`.
#define STATEBUS_MESSAGE(Type, TypeName, ...)                                                    \
  [[maybe_unused]] inline const char* statebus_type_name(const Type*) { return TypeName; }      \
  template <class Visitor>                                                                       \
  void statebus_visit_fields(const Type*, Visitor&& visit) {                                     \
    static_assert(std::is_trivially_copyable_v<Type>, #Type " must be trivially copyable");     \
    STATEBUS_DETAIL_FOR_EACH(STATEBUS_DETAIL_VISIT_FIELD, Type, __VA_ARGS__)                     \
  }                                                                                              \
  static_assert(true, "")

/// Names the values of an enum, so that tools print `heat` instead of `1`.
/// Optional: an enum without names is shown as its number.
#define STATEBUS_ENUM(Type, ...)                                                                     \
  [[maybe_unused]] inline const char* statebus_enum_type_name(const Type*) { return #Type; }        \
  [[maybe_unused]] inline std::vector<std::pair<std::int64_t, std::string>> statebus_enum_names(   \
      const Type*) {                                                                                 \
    return {STATEBUS_DETAIL_FOR_EACH(STATEBUS_DETAIL_ENUMERATOR, Type, __VA_ARGS__)};               \
  }                                                                                                  \
  static_assert(true, "")

namespace statebus {
namespace detail {

template <class T, class = void>
struct is_described : std::false_type {};
template <class T>
struct is_described<T, std::void_t<decltype(statebus_type_name(static_cast<const T*>(nullptr)))>>
    : std::true_type {};

template <class T, class = void>
struct has_enum_names : std::false_type {};
template <class T>
struct has_enum_names<T, std::void_t<decltype(statebus_enum_names(static_cast<const T*>(nullptr)))>>
    : std::true_type {};

template <class T>
struct is_std_array : std::false_type {};
template <class E, std::size_t N>
struct is_std_array<std::array<E, N>> : std::true_type {};

template <class T>
constexpr FieldKind integer_kind() {
  if constexpr (std::is_signed_v<T>) {
    return sizeof(T) == 1 ? FieldKind::int8 : sizeof(T) == 2 ? FieldKind::int16 : sizeof(T) == 4 ? FieldKind::int32 : FieldKind::int64;
  } else {
    return sizeof(T) == 1 ? FieldKind::uint8 : sizeof(T) == 2 ? FieldKind::uint16 : sizeof(T) == 4 ? FieldKind::uint32 : FieldKind::uint64;
  }
}

template <class T>
void describe_fields(std::vector<FieldSchema>& out);

/// Fills kind, size, type name, enumerators and nested fields for one value of M.
template <class M>
void describe_value(FieldSchema& field) {
  field.size = sizeof(M);
  if constexpr (std::is_same_v<M, bool>) {
    field.kind = FieldKind::boolean;
  } else if constexpr (std::is_enum_v<M>) {
    field.kind = FieldKind::enumeration;
    field.underlying = integer_kind<std::underlying_type_t<M>>();
    if constexpr (has_enum_names<M>::value) {
      field.type_name = statebus_enum_type_name(static_cast<const M*>(nullptr));
      field.enumerators = statebus_enum_names(static_cast<const M*>(nullptr));
    }
  } else if constexpr (std::is_integral_v<M>) {
    static_assert(sizeof(M) <= 8, "integers up to 64 bits");
    field.kind = integer_kind<M>();
  } else if constexpr (std::is_same_v<M, float>) {
    field.kind = FieldKind::float32;
  } else if constexpr (std::is_same_v<M, double>) {
    field.kind = FieldKind::float64;
  } else if constexpr (is_described<M>::value) {
    field.kind = FieldKind::structure;
    field.type_name = statebus_type_name(static_cast<const M*>(nullptr));
    describe_fields<M>(field.fields);
  } else {
    static_assert(is_described<M>::value,
                  "field type not supported: use bool, integers, float, double, enums, char arrays, arrays, or a "
                  "struct described with STATEBUS_MESSAGE");
  }
}

template <class M>
void describe_member(FieldSchema& field) {
  if constexpr (std::is_array_v<M> && std::is_same_v<std::remove_cv_t<std::remove_extent_t<M>>, char>) {
    field.kind = FieldKind::text;
    field.size = sizeof(M);
  } else if constexpr (std::is_array_v<M>) {
    using E = std::remove_extent_t<M>;
    static_assert(!std::is_array_v<E> && !is_std_array<E>::value, "arrays of arrays are not supported");
    field.count = static_cast<std::uint32_t>(std::extent_v<M>);
    describe_value<E>(field);
  } else if constexpr (is_std_array<M>::value) {
    using E = typename M::value_type;
    static_assert(!std::is_array_v<E> && !is_std_array<E>::value, "arrays of arrays are not supported");
    field.count = static_cast<std::uint32_t>(std::tuple_size<M>::value);
    describe_value<E>(field);
  } else {
    describe_value<M>(field);
  }
}

template <class T>
void describe_fields(std::vector<FieldSchema>& out) {
  // Offsets from a never-read object in static storage.
  union Storage {
    char none;
    T value;
    Storage() : none() {}
  };
  static Storage storage;
  const auto* base = reinterpret_cast<const unsigned char*>(&storage.value);
  statebus_visit_fields(static_cast<const T*>(nullptr), [&](const char* name, auto member) {
    using M = std::remove_reference_t<decltype(storage.value.*member)>;
    FieldSchema field;
    field.name = name;
    field.offset = static_cast<std::uint32_t>(reinterpret_cast<const unsigned char*>(&(storage.value.*member)) - base);
    describe_member<std::remove_cv_t<M>>(field);
    out.push_back(std::move(field));
  });
}

template <class T>
Schema build_schema() {
  Schema schema;
  schema.name = statebus_type_name(static_cast<const T*>(nullptr));
  schema.size = static_cast<std::uint32_t>(sizeof(T));
  schema.alignment = static_cast<std::uint32_t>(alignof(T));
  describe_fields<T>(schema.fields);
  schema.fingerprint = compute_fingerprint(schema);
  return schema;
}

}  // namespace detail

/// True if T was described with STATEBUS_MESSAGE.
template <class T>
inline constexpr bool is_described_v = detail::is_described<T>::value;

/// The schema of a described type, built once. Thread-safe.
template <class T>
const Schema& schema_of() {
  static_assert(is_described_v<T>, "describe the type with STATEBUS_MESSAGE(Type, \"name\", fields...)");
  static const Schema schema = detail::build_schema<T>();
  return schema;
}

}  // namespace statebus
